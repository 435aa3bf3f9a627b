//! smoltcp's view of the card: a [`Device`] over any [`LinkCard`].

use alloc::boxed::Box;
use alloc::vec;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::link::{Frame, LinkCard, LinkCounters, MAX_FRAME, ReceiveHandler};

/// The network card as smoltcp sees it, with the two frames that cross it: one received
/// frame and one to send, each on the heap, so that smoltcp's tokens lend them out by
/// reference (see [`LinkCard`]) and no task's stack ever holds a frame.
pub(crate) struct LinkDevice {
    card: Box<dyn LinkCard>,
    received: Box<Frame>,
    outgoing: Box<Frame>,
}

impl LinkDevice {
    pub(crate) fn new(card: Box<dyn LinkCard>) -> LinkDevice {
        LinkDevice {
            card,
            received: Box::new(Frame::new()),
            outgoing: Box::new(Frame::new()),
        }
    }

    /// See [`LinkCard::set_receive_handler`].
    pub(crate) fn set_receive_handler(&mut self, handler: ReceiveHandler) {
        self.card.set_receive_handler(handler);
    }

    /// The card's deferred work (see [`LinkCard::service`]).
    pub(crate) fn service_card(&mut self) {
        self.card.service();
    }

    /// When the card wants to be run again on its own (see [`LinkCard::wake_within`]).
    pub(crate) fn wake_within(&self) -> Option<core::time::Duration> {
        self.card.wake_within()
    }

    /// The card's counters.
    pub(crate) fn counters(&self) -> LinkCounters {
        self.card.counters()
    }
}

impl Device for LinkDevice {
    type RxToken<'a> = ReceivedFrame<'a>;
    type TxToken<'a> = TransmitSlot<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(ReceivedFrame<'_>, TransmitSlot<'_>)> {
        if !self.card.receive_into(&mut self.received) {
            return None;
        }
        Some((
            ReceivedFrame(&self.received),
            TransmitSlot {
                card: &mut self.card,
                frame: &mut self.outgoing,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TransmitSlot<'_>> {
        self.card.can_send().then_some(TransmitSlot {
            card: &mut self.card,
            frame: &mut self.outgoing,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }
}

/// A frame taken from the card (the device's receive frame, lent out).
pub(crate) struct ReceivedFrame<'a>(&'a Frame);

impl phy::RxToken for ReceivedFrame<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.0)
    }
}

/// Room for one frame in the card: the device's transmit frame, lent out to be filled.
pub(crate) struct TransmitSlot<'a> {
    card: &'a mut Box<dyn LinkCard>,
    frame: &'a mut Frame,
}

impl phy::TxToken for TransmitSlot<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.frame.clear();
        // smoltcp never asks for more than the MTU it was given; if it did, the frame is
        // built in a scratch buffer and dropped rather than sent truncated.
        if self.frame.resize(len, 0).is_err() {
            let mut scratch = vec![0u8; len];
            return f(&mut scratch);
        }
        let result = f(self.frame);
        // The card said there was room, and only the stack's lock holder fills it. If a card
        // changed its mind the frame is lost, as on a wire, and TCP sends it again.
        let _ = self.card.send(self.frame);
        result
    }
}
