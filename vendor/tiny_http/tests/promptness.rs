use std::io::{copy, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{sleep, spawn};
use std::time::Duration;

use tiny_http::{Request, Response};

#[allow(dead_code)]
mod support;

/// Stream that produces bytes very slowly
#[derive(Debug, Clone)]
struct SlowByteSrc {
    val: u8,
    len: usize,
    /// Set when the last byte has been produced.
    done: Option<Arc<AtomicBool>>,
}
impl Read for SlowByteSrc {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        sleep(Duration::from_millis(100));
        let l = self.len.min(buf.len()).min(1000);
        for v in buf[..l].iter_mut() {
            *v = self.val;
        }
        self.len -= l;
        if self.len == 0 {
            if let Some(done) = &self.done {
                done.store(true, Ordering::SeqCst);
            }
        }
        Ok(l)
    }
}

/// crude impl of http `Transfer-Encoding: chunked`
fn encode_chunked(data: &mut dyn Read, output: &mut dyn Write) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        let l = data.read(&mut buf)?;
        write!(output, "{:X}\r\n", l)?;
        output.write_all(&buf[..l])?;
        write!(output, "\r\n")?;
        if l == 0 {
            return Ok(());
        }
    }
}

mod prompt_pipelining {
    use super::*;

    // Changed: upstream checked that the next pipelined request was parsed
    // while the previous (slow) response was still being sent; now one
    // request is in flight per connection, so each is handled only after the
    // previous response was written, and all are answered, in order.
    fn assert_requests_handled_in_turn(
        req_cnt: usize,
        req_body: &'static [u8],
        req_writer: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static,
    ) {
        let handled = Arc::new(AtomicUsize::new(0));
        let out_of_turn = Arc::new(AtomicBool::new(false));
        let previous_written = Arc::new(AtomicBool::new(true));
        let (_running, mut client) = {
            let (handled, out_of_turn) = (handled.clone(), out_of_turn.clone());
            support::serve(support::limits(), move |req: Request| {
                let n = handled.fetch_add(1, Ordering::SeqCst);
                if !previous_written.swap(false, Ordering::SeqCst) || req.body() != req_body {
                    out_of_turn.store(true, Ordering::SeqCst);
                }
                // a slow response body (200 ms), which marks itself written
                let body = SlowByteSrc {
                    val: b'0' + n as u8,
                    len: 1000,
                    done: Some(previous_written.clone()),
                };
                Response::empty(200).with_data(body, Some(1000)).boxed()
            })
        };

        let mut writer = client.try_clone().unwrap();
        spawn(move || {
            let _ = req_writer(&mut writer);
            let _ = writer.shutdown(Shutdown::Write);
        });

        for n in 0..req_cnt {
            let response = support::read_response(&mut client);
            assert_eq!(response.status, 200);
            let digit = (b'0' + n as u8) as char;
            assert_eq!(response.body, digit.to_string().repeat(1000), "response {}", n);
        }
        support::assert_closed(&mut client);
        assert_eq!(handled.load(Ordering::SeqCst), req_cnt);
        assert!(
            !out_of_turn.load(Ordering::SeqCst),
            "a request was handled out of turn or got the wrong body"
        );
    }

    #[test]
    fn empty() {
        assert_requests_handled_in_turn(5, &[], move |wr| {
            for _ in 0..5 {
                write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
                write!(wr, "Connection: keep-alive\r\n\r\n")?;
            }
            Ok(())
        });
    }

    #[test]
    fn content_length_short() {
        let body = &[65u8; 100]; // short but not trivial
        assert_requests_handled_in_turn(5, body, move |wr| {
            for _ in 0..5 {
                write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
                write!(wr, "Connection: keep-alive\r\n")?;
                write!(wr, "Content-Length: {}\r\n\r\n", body.len())?;
                wr.write_all(body)?;
            }
            Ok(())
        });
    }

    #[test]
    fn content_length_long() {
        let body = &[65u8; 10000]; // long enough that it won't be buffered
        assert_requests_handled_in_turn(5, body, move |wr| {
            for _ in 0..5 {
                write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
                write!(wr, "Connection: keep-alive\r\n")?;
                write!(wr, "Content-Length: {}\r\n\r\n", body.len())?;
                wr.write_all(body)?;
            }
            Ok(())
        });
    }

    #[test]
    fn chunked() {
        // Changed: a chunked request body is no longer read: the first
        // request gets 411 and the connection closes, unanswered further.
        let body = &[65u8; 10000];
        let (_running, mut client) = support::new_client_to_hello_world_server();
        let mut writer = client.try_clone().unwrap();
        spawn(move || {
            for _ in 0..5 {
                write!(writer, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
                write!(writer, "Connection: keep-alive\r\n")?;
                write!(writer, "Transfer-Encoding: chunked\r\n\r\n")?;
                encode_chunked(&mut &body[..], &mut writer)?;
            }
            writer.shutdown(Shutdown::Write)
        });

        let content = support::read_to_close(&mut client);
        assert!(content.starts_with("HTTP/1.1 411 "), "{}", content);
        assert_eq!(content.matches("HTTP/1.1").count(), 1, "{}", content);
        assert!(!content.contains("hello world"));
    }
}

mod prompt_responses {
    use super::*;

    /// Check that response is sent promptly without waiting for full request body.
    fn assert_responds_promptly(
        timeout: Duration,
        expected_status: u16,
        req_writer: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'static,
    ) {
        // the handler is never called: the transport answers
        let (_running, client) = support::new_client_to_hello_world_server();

        let client = Arc::new(client);
        let client_write = Arc::clone(&client);
        // request written (possibly very slowly) in another thread
        spawn(move || req_writer(&mut &*client_write));

        // response should arrive quickly (before timeout expires)
        client.set_read_timeout(Some(timeout)).unwrap();
        let mut resp = [0u8; 4096];
        let read = (&*client).read(&mut resp);
        client.shutdown(Shutdown::Both).unwrap();
        let read = read.expect("Server response was not sent promptly");
        let status = format!("HTTP/1.1 {expected_status} ");
        assert!(resp[..read].starts_with(status.as_bytes()), "{:?}", &resp[..read]);
    }

    /// A body that would take 100 s to send.
    fn slow_body() -> SlowByteSrc {
        SlowByteSrc {
            val: 65,
            len: 1_000_000,
            done: None,
        }
    }

    // The timeouts are 1 s rather than upstream's 200 ms, for a busy machine:
    // a server waiting for the body would take 100 s.

    #[test]
    fn content_length_http11() {
        // Changed: the body is read before the handler is called, so a
        // prompt answer now comes from the transport: over `max_body`, 413.
        assert_responds_promptly(Duration::from_secs(1), 413, move |wr| {
            write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
            write!(wr, "Content-Length: {}\r\n\r\n", slow_body().len)?;
            copy(&mut slow_body(), wr).map(drop)
        });
    }

    #[test]
    fn content_length_http10() {
        // Changed: as above, 413 from the transport (to HTTP/1.0 too).
        assert_responds_promptly(Duration::from_secs(1), 413, move |wr| {
            write!(wr, "GET / HTTP/1.0\r\n")?;
            write!(wr, "Content-Length: {}\r\n\r\n", slow_body().len)?;
            copy(&mut slow_body(), wr).map(drop)
        });
    }

    #[test]
    fn expect_continue() {
        // Changed: "100 continue" (sic) is not `100-continue`: an unsupported
        // Expect now gets 417 at once, from the transport.
        assert_responds_promptly(Duration::from_secs(1), 417, move |wr| {
            write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
            write!(wr, "Expect: 100 continue\r\n")?;
            write!(wr, "Content-Length: {}\r\n\r\n", slow_body().len)?;
            copy(&mut slow_body(), wr).map(drop)
        });
    }

    #[test]
    fn chunked() {
        // Changed: chunked request bodies are not read: 411 at once.
        assert_responds_promptly(Duration::from_secs(1), 411, move |wr| {
            write!(wr, "GET / HTTP/1.1\r\nHost: localhost\r\n")?;
            write!(wr, "Transfer-Encoding: chunked\r\n\r\n")?;
            encode_chunked(&mut slow_body(), wr)
        });
    }
}
