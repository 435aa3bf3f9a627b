//! smoltcp's view of the card: a [`Device`] over any [`LinkCard`].

use alloc::boxed::Box;
use alloc::vec;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::link::{Frame, LinkCard, LinkCounters, MAX_FRAME, ReceiveHandler};

/// The network card as smoltcp sees it.
pub(crate) struct LinkDevice {
    card: Box<dyn LinkCard>,
}

impl LinkDevice {
    pub(crate) fn new(card: Box<dyn LinkCard>) -> LinkDevice {
        LinkDevice { card }
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
    type RxToken<'a> = ReceivedFrame;
    type TxToken<'a> = TransmitSlot<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(ReceivedFrame, TransmitSlot<'_>)> {
        let frame = self.card.receive()?;
        Some((
            ReceivedFrame(frame),
            TransmitSlot {
                card: &mut self.card,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TransmitSlot<'_>> {
        self.card.can_send().then_some(TransmitSlot {
            card: &mut self.card,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }
}

/// A frame taken from the card.
pub(crate) struct ReceivedFrame(Frame);

impl phy::RxToken for ReceivedFrame {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

/// Room for one frame in the card.
pub(crate) struct TransmitSlot<'a> {
    card: &'a mut Box<dyn LinkCard>,
}

impl phy::TxToken for TransmitSlot<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = Frame::new();
        // smoltcp never asks for more than the MTU it was given; if it did, the frame is
        // built in a scratch buffer and dropped rather than sent truncated.
        if frame.resize(len, 0).is_err() {
            let mut scratch = vec![0u8; len];
            return f(&mut scratch);
        }
        let result = f(&mut frame);
        // The card said there was room, and only the stack's lock holder fills it. If a card
        // changed its mind the frame is lost, as on a wire, and TCP sends it again.
        let _ = self.card.send(frame);
        result
    }
}
