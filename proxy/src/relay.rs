//! The bytes of a TCP session, or of an upgraded HTTP connection (a websocket), relayed
//! both ways between the client and its backend, each way through a buffer that starts
//! small and grows while reads fill it, up to [`MAX_BUFFER`]. tokio's
//! `copy_bidirectional` takes one fixed size: small buffers cost a bulk transfer twice
//! the system calls, large ones cost every idle session their size (bench/RESULTS.md,
//! "Figures behind design choices", has both figures). As with `copy_bidirectional`, an
//! end-of-stream on one side shuts the other's writing half down (half-close passes
//! through), and an error ends both ways.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Each way's first buffer: enough for the messages of most protocols.
const FIRST_BUFFER: usize = 16 * 1024;
/// The largest a buffer grows to, doubling each time a read filled it.
const MAX_BUFFER: usize = 256 * 1024;

/// Relays until both ways have ended; the bytes sent to `b` and to `a`.
pub(crate) async fn relay<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut to_b, mut to_a) = (Way::new(), Way::new());
    poll_fn(|cx| {
        let b_done = to_b.poll(cx, &mut *a, &mut *b)?.is_ready();
        let a_done = to_a.poll(cx, &mut *b, &mut *a)?.is_ready();
        match b_done && a_done {
            true => Poll::Ready(Ok((to_b.sent, to_a.sent))),
            false => Poll::Pending,
        }
    })
    .await
}

/// One way of the session: what was read and not yet written.
#[derive(Debug)]
struct Way {
    buf: Vec<u8>,
    /// Written up to `start`, read up to `end`.
    start: usize,
    end: usize,
    /// The last read filled the buffer: grow it once it is written out.
    filled: bool,
    /// The reader's end of stream: shut the writer down once all is written.
    eof: bool,
    done: bool,
    sent: u64,
}

impl Way {
    fn new() -> Self {
        Self {
            buf: vec![0; FIRST_BUFFER],
            start: 0,
            end: 0,
            filled: false,
            eof: false,
            done: false,
            sent: 0,
        }
    }

    /// Moves bytes from `from` to `to` until one of them is not ready; ready once the
    /// end of stream has been passed on.
    fn poll<R, W>(&mut self, cx: &mut Context<'_>, from: &mut R, to: &mut W) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if self.done {
            return Poll::Ready(Ok(()));
        }
        loop {
            while self.start < self.end {
                let n = ready!(Pin::new(&mut *to).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                self.sent += n as u64;
            }
            (self.start, self.end) = (0, 0);
            if self.eof {
                ready!(Pin::new(&mut *to).poll_shutdown(cx))?;
                self.done = true;
                return Poll::Ready(Ok(()));
            }
            if self.filled && self.buf.len() < MAX_BUFFER {
                self.buf = vec![0; self.buf.len() * 2];
            }
            let mut read = ReadBuf::new(&mut self.buf);
            ready!(Pin::new(&mut *from).poll_read(cx, &mut read))?;
            let n = read.filled().len();
            self.filled = n == self.buf.len();
            self.eof = n == 0;
            self.end = n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn both_ways_whole_with_growing_buffers_and_half_close() {
        // a: the proxy's side of the client; b: of the backend
        let (client, mut a) = tokio::io::duplex(64 * 1024);
        let (mut b, mut backend) = tokio::io::duplex(64 * 1024);
        let up: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let down: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
        let relayed = tokio::spawn(async move { relay(&mut a, &mut b).await });
        let (up2, down2) = (up.clone(), down.clone());
        let client_side = tokio::spawn(async move {
            let (mut r, mut w) = tokio::io::split(client);
            let send = async move {
                w.write_all(&up2).await.unwrap();
                w.shutdown().await.unwrap();
            };
            let mut got = Vec::new();
            let recv = r.read_to_end(&mut got);
            let (_, n) = tokio::join!(send, recv);
            n.unwrap();
            got
        });
        let mut got = Vec::new();
        backend.read_to_end(&mut got).await.unwrap();
        assert!(
            got == up,
            "client -> backend: {} of {} bytes",
            got.len(),
            up.len()
        );
        // the client's half-close reached the backend, which answers and closes
        backend.write_all(&down2).await.unwrap();
        backend.shutdown().await.unwrap();
        drop(backend);
        let back = client_side.await.unwrap();
        assert!(
            back == down,
            "backend -> client: {} of {} bytes",
            back.len(),
            down.len()
        );
        let sent = relayed.await.unwrap().unwrap();
        assert_eq!(sent, (up.len() as u64, down.len() as u64));
    }

    /// The buffer after `data` went one way and the writer closed.
    async fn buffer_after(data: Vec<u8>) -> usize {
        let (mut writer, mut from) = tokio::io::duplex(1024 * 1024);
        let (mut to, mut reader) = tokio::io::duplex(1024 * 1024);
        let mut way = Way::new();
        let feed = tokio::spawn(async move {
            for chunk in data.chunks(300 * 1024) {
                writer.write_all(chunk).await.unwrap();
            }
        });
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            reader.read_to_end(&mut sink).await.unwrap();
        });
        poll_fn(|cx| way.poll(cx, &mut from, &mut to))
            .await
            .unwrap();
        feed.await.unwrap();
        drop(to);
        drain.await.unwrap();
        way.buf.len()
    }

    #[tokio::test]
    async fn a_buffer_grows_only_while_reads_fill_it() {
        assert_eq!(buffer_after(vec![7; 100]).await, FIRST_BUFFER);
        assert_eq!(buffer_after(vec![7; 4 * 1024 * 1024]).await, MAX_BUFFER);
    }
}
