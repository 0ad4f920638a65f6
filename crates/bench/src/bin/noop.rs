//! `ignis-bench-noop`: the native no-op function of `ignis bench`.
//!
//! A minimal custom runtime (what `provided.al2023` runs as `bootstrap`) using only the standard
//! library: over one keep-alive HTTP/1.1 connection to `$AWS_LAMBDA_RUNTIME_API` it loops
//! `GET /2018-06-01/runtime/invocation/next`, takes `Lambda-Runtime-Aws-Request-Id` and the event,
//! and posts the event back unchanged to `/2018-06-01/runtime/invocation/{id}/response`.
//!
//! `ignis-bench-noop --version` prints its version and exits at once: the bench times that as
//! the bare-process baseline of a native cold start.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
/// Consecutive connection failures after which the runtime gives up.
const MAX_FAILURES: u32 = 5;

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-V")
    {
        println!("ignis-bench-noop {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("ignis-bench-noop: AWS_LAMBDA_RUNTIME_API is not set");
        return ExitCode::FAILURE;
    };
    let mut conn: Option<Conn> = None;
    let mut failures = 0;
    loop {
        let result = match conn.as_mut() {
            Some(c) => c.serve_one(&api),
            None => match Conn::open(&api) {
                Ok(c) => {
                    conn = Some(c);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(keep_alive) => {
                failures = 0;
                if !keep_alive {
                    conn = None;
                }
            }
            Err(e) => {
                conn = None;
                failures += 1;
                if failures >= MAX_FAILURES {
                    eprintln!("ignis-bench-noop: Runtime API at {api} failed: {e}");
                    return ExitCode::FAILURE;
                }
                std::thread::sleep(Duration::from_millis(10 * u64::from(failures)));
            }
        }
    }
}

/// One connection to the Runtime API.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// A response as far as the runtime needs it.
#[derive(Debug, Default, PartialEq)]
struct Response {
    status: u16,
    request_id: Option<String>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl Conn {
    fn open(api: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(api)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Fetches one event and answers it. Returns whether the connection may be reused.
    fn serve_one(&mut self, api: &str) -> std::io::Result<bool> {
        let request = format!("GET {NEXT_PATH} HTTP/1.1\r\nHost: {api}\r\n\r\n");
        self.writer.write_all(request.as_bytes())?;
        let next = read_response(&mut self.reader)?;
        if next.status != 200 {
            return Err(other(format!("/next answered {}", next.status)));
        }
        let id = next
            .request_id
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
            .ok_or_else(|| other("/next carried no usable Lambda-Runtime-Aws-Request-Id".into()))?;
        if !next.keep_alive {
            // The event is ours now: answer it on a fresh connection.
            *self = Conn::open(api)?;
        }
        let mut post = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            next.body.len()
        )
        .into_bytes();
        post.extend_from_slice(&next.body);
        self.writer.write_all(&post)?;
        let done = read_response(&mut self.reader)?;
        if !(200..300).contains(&done.status) {
            return Err(other(format!("/response answered {}", done.status)));
        }
        Ok(done.keep_alive)
    }
}

fn other(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

/// Reads one HTTP/1.x response: status line, headers, and a body framed by `Content-Length`,
/// chunked transfer coding, or the end of the connection.
fn read_response(reader: &mut impl BufRead) -> std::io::Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| other(format!("bad status line {line:?}")))?;
    let mut response = Response {
        status,
        keep_alive: version == "HTTP/1.1",
        ..Response::default()
    };
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(other(format!("bad header line {header:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                value
                    .parse()
                    .map_err(|_| other(format!("bad Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            response.request_id = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                response.keep_alive = false;
            } else if value.contains("keep-alive") {
                response.keep_alive = true;
            }
        }
    }
    if chunked {
        response.body = read_chunked(reader)?;
    } else if let Some(n) = content_length {
        response.body = vec![0; n];
        reader.read_exact(&mut response.body)?;
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        reader.read_to_end(&mut response.body)?;
        response.keep_alive = false;
    }
    Ok(response)
}

/// Decodes a chunked body (chunk extensions and trailers are skipped).
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size_text = line.trim_end_matches(['\r', '\n']);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| other(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0
                    || line.trim_end_matches(['\r', '\n']).is_empty()
                {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(other("chunk not followed by CRLF".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Response {
        read_response(&mut BufReader::new(raw.as_bytes())).unwrap()
    }

    #[test]
    fn content_length_body_and_request_id() {
        let r = parse(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc-1\r\ncontent-length: 7\r\n\r\n{\"n\":1}",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.request_id.as_deref(), Some("abc-1"));
        assert_eq!(r.body, b"{\"n\":1}");
        assert!(r.keep_alive);
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let r = parse(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"n\r\n4\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n",
        );
        assert_eq!(r.body, b"{\"n\":1}");
        assert!(r.keep_alive);
    }

    #[test]
    fn connection_close_and_http10() {
        assert!(
            !parse("HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .keep_alive
        );
        assert!(!parse("HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n").keep_alive);
        let r = parse("HTTP/1.1 200 OK\r\n\r\nuntil eof");
        assert_eq!(r.body, b"until eof");
        assert!(!r.keep_alive);
    }

    #[test]
    fn malformed_responses_are_errors() {
        let bad = |raw: &str| read_response(&mut BufReader::new(raw.as_bytes())).is_err();
        assert!(bad(""));
        assert!(bad("HTTP/1.1 abc\r\n\r\n"));
        assert!(bad("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"));
        assert!(bad("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"));
        assert!(bad(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        ));
    }
}
