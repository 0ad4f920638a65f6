//! AWS event-stream frames (`application/vnd.amazon.eventstream`), as the services' streamed
//! answers carry them (Lambda's InvokeWithResponseStream, CloudWatch Logs' StartLiveTail),
//! encoded by smithy-rs's own codec.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// The `Content-Type` of an event-stream answer.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

fn header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

fn write(out: &mut BytesMut, message: &Message) {
    aws_smithy_eventstream::frame::write_message_to(message, out)
        .expect("an event's headers and payload are within the frame's bounds");
}

/// Appends one event message (`:message-type` `event`) to `out`.
pub fn event(
    out: &mut BytesMut,
    event_type: &'static str,
    content_type: &'static str,
    payload: Bytes,
) {
    let message = Message::new(payload)
        .add_header(header(":event-type", event_type))
        .add_header(header(":content-type", content_type))
        .add_header(header(":message-type", "event"));
    write(out, &message);
}

/// Appends one modeled exception (`:message-type` `exception`) to `out`.
pub fn exception(out: &mut BytesMut, exception_type: &'static str, payload: Bytes) {
    let message = Message::new(payload)
        .add_header(header(":exception-type", exception_type))
        .add_header(header(":content-type", "application/json"))
        .add_header(header(":message-type", "exception"));
    write(out, &message);
}
