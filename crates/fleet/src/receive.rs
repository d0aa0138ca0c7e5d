//! The one way the fleet's loops read a subscription: the next message, or
//! none once the subscription ends or the node stops.

use async_nats::{Message, Subscriber};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// The next message of `subscriber`; `None` when it ended or `stop` was
/// cancelled, so a loop reads `while let Some(message) = next(…).await`.
pub async fn next(subscriber: &mut Subscriber, stop: &CancellationToken) -> Option<Message> {
    tokio::select! {
        message = subscriber.next() => message,
        () = stop.cancelled() => None,
    }
}
