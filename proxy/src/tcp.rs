//! TCP gateways: each client connection goes to the next backend that accepts, and bytes
//! are copied both ways until both sides have closed (half-close passes through) or
//! nothing has moved for the idle timeout.

use crate::limits::Limits;
use crate::metrics::Counters;
use crate::relay::relay;
use crate::routes::GatewayRt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Serves one client connection of a TCP gateway.
pub(crate) async fn serve(client: TcpStream, gateway: &GatewayRt, limits: &Limits) {
    let counters = &gateway.counters;
    Counters::add(&counters.requests, 1);
    let mut upstream = None;
    for backend in gateway.balancer.candidates(limits.max_tries) {
        if let Ok(stream) = backend.connect(limits).await {
            upstream = Some(stream);
            break;
        }
    }
    let Some(upstream) = upstream else {
        // no backend: closing the connection is all TCP can say
        Counters::add(&counters.errors, 1);
        return;
    };
    let idle = limits.tcp_idle_timeout;
    let (mut client, mut upstream) = (Watched::new(client), Watched::new(upstream));
    let last = client.last.clone();
    upstream.last = last.clone();
    let copy = relay(&mut client, &mut upstream);
    tokio::select! {
        copied = copy => {
            if let Ok((up, down)) = copied {
                Counters::add(&counters.bytes_in, up);
                Counters::add(&counters.bytes_out, down);
            }
        }
        _ = idle_for(&last, idle) => {}
    }
}

/// Resolves once no byte has moved for `idle`.
async fn idle_for(last: &Arc<Mutex<Instant>>, idle: Duration) {
    loop {
        let since = *last.lock().unwrap_or_else(|e| e.into_inner());
        if since.elapsed() >= idle {
            return;
        }
        tokio::time::sleep_until((since + idle).into()).await;
    }
}

/// A stream that notes when it last read a byte.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    last: Arc<Mutex<Instant>>,
}

impl Watched {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            last: Arc::new(Mutex::new(Instant::now())),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
