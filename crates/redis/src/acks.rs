//! How far a broadcast with acks sent to the other nodes has been answered,
//! [`Whole`]: the rule that says when its round trip is over, for the
//! adapter's round-trip histogram.
//!
//! Owns: counting the answers. Must not touch: the answers themselves (the
//! node passes them on) or the clock (the node times the trip).

use super::wire::Response;

/// A broadcast with acks is whole once every other node has said how many
/// of its clients it asked, and that many acks have come.
#[derive(Debug, Default)]
pub(crate) struct Whole {
    nodes: usize,
    asked: usize,
    acks: usize,
}

impl Whole {
    /// Counts one answer; other responses are not the broadcast's.
    pub(crate) fn take(&mut self, answer: &Response) {
        match answer {
            Response::ClientCount(n) => {
                self.nodes += 1;
                self.asked += n;
            }
            Response::Ack(_) => self.acks += 1,
            _ => {}
        }
    }

    /// Whether `others` nodes have all answered in full.
    pub(crate) fn of(&self, others: usize) -> bool {
        self.nodes == others && self.acks >= self.asked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(answers: &[Response]) -> Whole {
        let mut whole = Whole::default();
        answers.iter().for_each(|a| whole.take(a));
        whole
    }

    #[test]
    fn whole_once_every_node_counted_and_every_client_acked() {
        let ack = || Response::Ack(None);
        let counts = [Response::ClientCount(2), Response::ClientCount(1)];
        assert!(!after(&counts).of(2));
        assert!(!after(&[Response::ClientCount(2), ack(), ack()]).of(2));
        let all = [counts[0].clone(), ack(), counts[1].clone(), ack(), ack()];
        assert!(after(&all).of(2));
    }

    #[test]
    fn acks_may_come_before_their_node_s_count() {
        let answers = [Response::Ack(None), Response::ClientCount(1)];
        assert!(after(&answers).of(1));
    }

    #[test]
    fn nodes_with_no_client_asked_only_count() {
        let answers = [Response::ClientCount(0), Response::ClientCount(0)];
        assert!(after(&answers).of(2));
        assert!(!after(&answers[..1]).of(2));
    }
}
