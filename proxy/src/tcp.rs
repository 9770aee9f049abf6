//! TCP gateways: each client connection goes to the next backend that accepts, and bytes
//! are copied both ways until both sides have closed (half-close passes through).

use crate::conn::Shared;
use crate::metrics::Counters;
use crate::routes::GatewayRt;
use tokio::net::TcpStream;

/// Copy buffer per direction: large enough for bulk throughput, small enough for many sessions.
const BUFFER: usize = 64 * 1024;

/// Serves one client connection of a TCP gateway.
pub async fn serve(mut client: TcpStream, gateway: &GatewayRt, shared: &Shared) {
    let counters = &gateway.counters;
    Counters::add(&counters.requests, 1);
    let mut upstream = None;
    for backend in gateway.balancer.candidates(shared.limits.max_tries) {
        if let Ok(stream) = backend.connect(&shared.limits).await {
            upstream = Some(stream);
            break;
        }
    }
    let Some(mut upstream) = upstream else {
        // no backend: closing the connection is all TCP can say
        Counters::add(&counters.errors, 1);
        return;
    };
    let copied =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, BUFFER, BUFFER).await;
    if let Ok((up, down)) = copied {
        Counters::add(&counters.bytes_in, up);
        Counters::add(&counters.bytes_out, down);
    }
}
