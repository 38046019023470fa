//! When bytes arrived: a reader that notes the time of every read, so a frame decoded later
//! (after others buffered with it) is stamped with when its last byte came off the socket, not
//! with when it was decoded.

#![allow(
    clippy::disallowed_methods,
    reason = "stamps each socket read with when it happened"
)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, ReadBuf};

/// Reads remembered at most: past it a read is folded into the newest (a frame then gets the
/// time of a later read, only when a peer trickles a frame in over this many reads or sends
/// bytes that make no frame, such as blank lines).
const MAX_READS: usize = 64;

/// Reads through `inner`, remembering (stream offset after the read, when) per read.
#[derive(Debug)]
pub(crate) struct Stamped<R> {
    inner: R,
    read: u64,
    /// Reads not yet wholly decoded, oldest first.
    reads: VecDeque<(u64, Instant)>,
}

impl<R> Stamped<R> {
    pub(crate) fn new(inner: R) -> Stamped<R> {
        Stamped {
            inner,
            read: 0,
            reads: VecDeque::new(),
        }
    }

    /// When the byte just before stream offset `end` arrived (a frame ending at `end` was
    /// complete then); forgets the reads wholly before it. `None` for an offset not read yet.
    pub(crate) fn arrived(&mut self, end: u64) -> Option<Instant> {
        while self.reads.front().is_some_and(|(upto, _)| *upto < end) {
            self.reads.pop_front();
        }
        self.reads.front().map(|(_, at)| *at)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Stamped<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read += n as u64;
            let upto = self.read;
            if self.reads.len() < MAX_READS {
                self.reads.push_back((upto, Instant::now()));
            } else if let Some(newest) = self.reads.back_mut() {
                newest.0 = upto;
            }
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_frame_is_stamped_with_the_read_that_completed_it() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = Stamped::new(rx);
        let mut buf = [0u8; 64];
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"abcd")
            .await
            .expect("written");
        assert_eq!(r.read(&mut buf).await.expect("read"), 4);
        let first = r.reads[0].1;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"efgh")
            .await
            .expect("written");
        assert_eq!(r.read(&mut buf).await.expect("read"), 4);
        // A frame within the first read, one ending at its last byte, one ending in the second.
        assert_eq!(r.arrived(2), Some(first));
        assert_eq!(r.arrived(4), Some(first));
        let second = r.arrived(6).expect("read");
        assert!(second > first);
        assert_eq!(r.arrived(8), Some(second));
        assert_eq!(r.arrived(9), None, "not read yet");
        assert!(r.reads.is_empty());
    }

    #[tokio::test]
    async fn reads_that_make_no_frame_are_bounded() {
        let (mut tx, rx) = tokio::io::duplex(8);
        let mut r = Stamped::new(rx);
        let mut buf = [0u8; 8];
        for _ in 0..1000 {
            tokio::io::AsyncWriteExt::write_all(&mut tx, b"\n")
                .await
                .expect("written");
            assert_eq!(r.read(&mut buf).await.expect("read"), 1);
        }
        assert_eq!(r.reads.len(), MAX_READS);
        assert_eq!(r.reads.back().map(|(upto, _)| *upto), Some(1000));
        assert!(
            r.arrived(1000).is_some(),
            "every byte read is still covered"
        );
    }
}
