//! Reconnect delays: `min(200 ms × 1.5^attempt, 5 s)`, as the Vox Deorum
//! bridge does, unlimited in count.

use std::time::Duration;

#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(5);

    /// The delay before the next attempt; each call counts one attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = Self::FIRST.mul_f64(1.5f64.powi(self.attempt.min(16) as i32)).min(Self::MAX);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Call after a successful connection.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_by_half_and_caps_at_five_seconds() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..12).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(&delays[..5], &[200, 300, 450, 675, 1012]);
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(*delays.last().unwrap(), 5000);
        backoff.reset();
        assert_eq!(backoff.next_delay().as_millis(), 200);
    }
}
