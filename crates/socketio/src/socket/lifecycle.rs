//! A socket's life as plain data: connected until the first close, then
//! socket.io's steps in socket.io's order, each once: `disconnecting`
//! (rooms still visible), leave every room, `disconnect`, stop. The socket
//! actor carries the steps out; this decides which comes next. No actors,
//! no I/O.

use crate::client::DisconnectReason;

/// One thing the actor does on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Tell the `disconnecting` handler, with the rooms the socket is still in.
    Disconnecting(DisconnectReason),
    /// Leave every room (keeping the session for recovery if the reason
    /// allows); whoever awaits the socket's departure hears it.
    LeaveRooms(DisconnectReason),
    /// Tell the `disconnect` handler.
    Disconnect(DisconnectReason),
    /// Stop the actor; its namespace stops counting it.
    Stop,
}

/// Which handlers a socket's namespace has, for the steps that tell them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listening {
    pub disconnecting: bool,
    pub disconnect: bool,
}

/// Where a socket is in its life.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    listening: Listening,
    /// The steps left, in order; `None` while connected.
    steps: Option<Vec<Step>>,
}

impl Lifecycle {
    pub fn new(listening: Listening) -> Lifecycle {
        Lifecycle {
            listening,
            steps: None,
        }
    }

    /// Whether the socket still takes packets (it has not started closing).
    pub fn connected(&self) -> bool {
        self.steps.is_none()
    }

    /// Whether every step has been handed out, the last being `Stop`.
    pub fn finished(&self) -> bool {
        self.steps.as_ref().is_some_and(Vec::is_empty)
    }

    /// The socket ends for `reason`: its first step, or `None` when it is
    /// ending already (a second close changes nothing, its reason included).
    pub fn close(&mut self, reason: DisconnectReason) -> Option<Step> {
        if self.steps.is_some() {
            return None;
        }
        let mut steps = Vec::with_capacity(4);
        // Reversed: `next` pops from the end.
        steps.push(Step::Stop);
        if self.listening.disconnect {
            steps.push(Step::Disconnect(reason));
        }
        steps.push(Step::LeaveRooms(reason));
        if self.listening.disconnecting {
            steps.push(Step::Disconnecting(reason));
        }
        self.steps = Some(steps);
        self.next()
    }

    /// The step after the one just carried out; `None` once it has stopped.
    pub fn next(&mut self) -> Option<Step> {
        self.steps.as_mut()?.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASON: DisconnectReason = DisconnectReason::TransportClose;

    fn run(mut life: Lifecycle) -> Vec<Step> {
        let mut steps: Vec<Step> = life.close(REASON).into_iter().collect();
        while let Some(step) = life.next() {
            steps.push(step);
        }
        steps
    }

    #[test]
    fn every_handler_hears_in_socket_io_order() {
        let all = Listening {
            disconnecting: true,
            disconnect: true,
        };
        assert_eq!(
            run(Lifecycle::new(all)),
            [
                Step::Disconnecting(REASON),
                Step::LeaveRooms(REASON),
                Step::Disconnect(REASON),
                Step::Stop
            ]
        );
    }

    #[test]
    fn without_handlers_it_only_leaves_and_stops() {
        let none = Listening::default();
        assert_eq!(
            run(Lifecycle::new(none)),
            [Step::LeaveRooms(REASON), Step::Stop]
        );
    }

    #[test]
    fn a_second_close_changes_nothing() {
        let mut life = Lifecycle::new(Listening::default());
        assert!(life.connected());
        assert_eq!(life.close(REASON), Some(Step::LeaveRooms(REASON)));
        assert!(!life.connected());
        assert_eq!(life.close(DisconnectReason::ServerShutdown), None);
        assert_eq!(life.next(), Some(Step::Stop));
        assert!(life.finished());
        assert_eq!(life.next(), None);
    }
}
