//! smoltcp's view of the link: a [`Device`] over the [`LinkPort`] frame rings.

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::link::pcap::PcapTap;
use crate::link::{Frame, LinkPort, MAX_FRAME};

/// The network card as smoltcp sees it.
pub(crate) struct LinkDevice {
    port: LinkPort,
    tap: Option<PcapTap>,
}

impl LinkDevice {
    pub(crate) fn new(port: LinkPort, tap: Option<PcapTap>) -> LinkDevice {
        LinkDevice { port, tap }
    }

    /// See [`LinkPort::set_receive_handler`].
    pub(crate) fn set_receive_handler(&mut self, handler: crate::link::ReceiveHandler) {
        self.port.set_receive_handler(handler);
    }

    /// The card's deferred work (see [`LinkPort::service`]).
    pub(crate) fn service_card(&mut self) {
        self.port.service();
    }
}

impl Device for LinkDevice {
    type RxToken<'a> = ReceivedFrame;
    type TxToken<'a> = TransmitSlot<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(ReceivedFrame, TransmitSlot<'_>)> {
        let frame = self.port.receive()?;
        if let Some(tap) = self.tap.as_mut() {
            tap.record(&frame);
        }
        Some((
            ReceivedFrame(frame),
            TransmitSlot {
                port: &mut self.port,
                tap: self.tap.as_mut(),
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TransmitSlot<'_>> {
        self.port.can_send().then_some(TransmitSlot {
            port: &mut self.port,
            tap: self.tap.as_mut(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }
}

/// A frame taken from the receive ring.
pub(crate) struct ReceivedFrame(Frame);

impl phy::RxToken for ReceivedFrame {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

/// Room for one frame in the transmit ring.
pub(crate) struct TransmitSlot<'a> {
    port: &'a mut LinkPort,
    tap: Option<&'a mut PcapTap>,
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
        if let Some(tap) = self.tap {
            tap.record(&frame);
        }
        // `can_send` said there was room, and only this task fills the ring.
        let _ = self.port.send(frame);
        result
    }
}
