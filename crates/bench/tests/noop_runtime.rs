//! The native no-op runtime against a tiny fake Runtime API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NOOP: &str = env!("CARGO_BIN_EXE_ignis-bench-noop");

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Request {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().expect("a request line").to_owned();
    let path = parts.next().unwrap().to_owned();
    assert_eq!(parts.next(), Some("HTTP/1.1"));
    let mut length = 0;
    let mut host = false;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap();
        }
        host |= name.eq_ignore_ascii_case("host");
    }
    assert!(host, "HTTP/1.1 requests carry Host");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Request { method, path, body }
}

fn event_with_length(id: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
         Lambda-Runtime-Deadline-Ms: 99999999999999\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn event_chunked(id: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nlambda-runtime-aws-request-id: {id}\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(5) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_noop(api: &str) -> Killed {
    Killed(
        Command::new(NOOP)
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn accept(listener: &TcpListener) -> (BufReader<TcpStream>, TcpStream) {
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (BufReader::new(stream.try_clone().unwrap()), stream)
}

#[test]
fn answers_every_event_with_its_body_over_one_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let _noop = spawn_noop(&api);

    let big: Vec<u8> = format!("{{\"data\":\"{}\"}}", "x".repeat(200_000)).into_bytes();
    let events: Vec<(&str, Vec<u8>)> = vec![
        ("id-1", event_with_length("id-1", b"{\"n\":1}", "")),
        (
            "id-2",
            event_chunked("id-2", b"{\"a\":[1,2,3],\"s\":\"chunked\"}"),
        ),
        ("id-3", event_with_length("id-3", &big, "X-Other: y\r\n")),
        (
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            event_with_length("8476a536-e9f4-11e8-9739-2dfe598c3fcd", b"", ""),
        ),
    ];
    let expected_bodies: Vec<Vec<u8>> = vec![
        b"{\"n\":1}".to_vec(),
        b"{\"a\":[1,2,3],\"s\":\"chunked\"}".to_vec(),
        big.clone(),
        Vec::new(),
    ];

    let (mut reader, mut writer) = accept(&listener);
    for ((id, event), expected) in events.iter().zip(&expected_bodies) {
        let next = read_request(&mut reader);
        assert_eq!(next.method, "GET");
        assert_eq!(next.path, "/2018-06-01/runtime/invocation/next");
        writer.write_all(event).unwrap();

        let response = read_request(&mut reader);
        assert_eq!(response.method, "POST");
        assert_eq!(
            response.path,
            format!("/2018-06-01/runtime/invocation/{id}/response")
        );
        assert_eq!(&response.body, expected, "event {id} sent back unchanged");
        writer.write_all(ACCEPTED).unwrap();
    }
    // And it asks for the next one on the same connection.
    let next = read_request(&mut reader);
    assert_eq!(next.path, "/2018-06-01/runtime/invocation/next");
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "one keep-alive connection only");
}

#[test]
fn a_closed_connection_is_replaced() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let _noop = spawn_noop(&api);

    // The event arrives with `Connection: close`: the answer comes on a new connection.
    let (mut reader, mut writer) = accept(&listener);
    read_request(&mut reader);
    writer
        .write_all(&event_with_length(
            "id-c",
            b"{\"n\":2}",
            "Connection: close\r\n",
        ))
        .unwrap();
    drop((reader, writer));

    let (mut reader, mut writer) = accept(&listener);
    let response = read_request(&mut reader);
    assert_eq!(
        response.path,
        "/2018-06-01/runtime/invocation/id-c/response"
    );
    assert_eq!(response.body, b"{\"n\":2}");
    writer.write_all(ACCEPTED).unwrap();
    assert_eq!(read_request(&mut reader).method, "GET");
}

#[test]
fn version_exits_at_once() {
    let out = Command::new(NOOP)
        .arg("--version")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ignis-bench-noop "));
}

#[test]
fn fails_without_a_runtime_api() {
    let out = Command::new(NOOP)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AWS_LAMBDA_RUNTIME_API"));

    // Nothing listens there: it gives up after a few tries rather than spinning forever.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = Command::new(NOOP)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}
