//! The link layer: Ethernet frames in and out of the device. Portable.
//!
//! A network card is a [`LinkCard`]: frames in, frames out, and an interrupt line that it
//! raises when frames have arrived or room to send has come back (see
//! [`crate::rtos::interrupt`]; the TCP/IP stack attaches its IP task to that line). Boards
//! bring the cards: the simulators' are libslirp (`board::posix::slirp`) and the pure-Rust
//! gateway (`board::gateway`); a Cortex-M board's is its Ethernet controller.
//!
//! Wrappers that take any card and are one themselves sit here, beside the cards:
//!
//! | wrapper | what |
//! |---|---|
//! | [`pcap::PcapTap`] | records every frame in a pcap capture (Wireshark), into any [`pcap::CaptureSink`] |
//!
//! | [`faults::FaultyLink`] | drops, duplicates, delays and reorders frames, reproducibly from a seed (the demo's `--link-faults`) |
//!
//! [`ring::RingCard`] is the device end of a pair of lock-free frame rings, for cards whose
//! "hardware" runs outside the device's driver (slirp on the simulator, DMA rings on a board).

pub mod faults;
pub mod pcap;
pub mod ring;

use alloc::boxed::Box;

/// Largest Ethernet frame carried, without the frame check sequence (1500 B MTU + 14 B header).
pub const MAX_FRAME: usize = 1514;

/// One Ethernet frame.
pub type Frame = heapless::Vec<u8, MAX_FRAME>;

/// A card's frame counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// Frames delivered to the device.
    pub received: u64,
    /// Frames dropped on the way in (the device's receive ring was full, say).
    pub dropped: u64,
    /// Frames sent by the device.
    pub sent: u64,
}

/// The card had no room for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingFull;

impl core::fmt::Display for RingFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the card's transmit ring is full")
    }
}

impl core::error::Error for RingFull {}

/// Serves received frames at once if the stack is free; `false` if it could not without
/// waiting. Called on a task, with the scheduler suspended.
pub type ReceiveHandler = &'static (dyn Fn() -> bool + Sync);

/// A network card, as the TCP/IP stack drives it. Owned by the stack and called from tasks
/// (the IP task, or a socket caller holding the stack's lock), never from two at once.
///
/// | who | does what |
/// |---|---|
/// | the card | raises [`interrupt_line`](Self::interrupt_line) when frames arrive, and when room to send comes back after [`can_send`](Self::can_send) said no |
/// | the stack | attaches its IP task to that line, then takes frames with [`receive_into`](Self::receive_into) and sends with [`send`](Self::send) until each says no more |
///
/// Frames cross by reference: the stack owns one receive and one transmit [`Frame`] (in its
/// heap-allocated state), the card copies a received frame into the one and reads a frame to
/// send from the other. A 1.5 KB frame is never moved by value on a task's stack, which keeps
/// the IP task's and the socket callers' stacks small on a board.
pub trait LinkCard: Send {
    /// Copies the next received frame into `frame`, replacing what it held; `false` if none
    /// was waiting. After `false`, `frame`'s contents are unspecified (a wrapper may have used
    /// it as scratch space).
    fn receive_into(&mut self, frame: &mut Frame) -> bool;

    /// Whether a frame can be sent now. If not, the card raises its interrupt line once there
    /// is room.
    fn can_send(&mut self) -> bool;

    /// Sends a copy of `frame`. Fails (and sends nothing) only if [`can_send`](Self::can_send)
    /// would have said no.
    fn send(&mut self, frame: &Frame) -> Result<(), RingFull>;

    /// The interrupt line the card raises (see [`crate::rtos::interrupt`]).
    fn interrupt_line(&self) -> u8;

    /// Deferred work of the card, run by the IP task on each of its wake-ups. Nothing by
    /// default.
    fn service(&mut self) {}

    /// How soon the card needs [`service`](Self::service) or [`receive_into`](Self::receive_into) run
    /// again without being asked through its interrupt line: a card that holds frames for
    /// later (a delaying wrapper, say) names when the next one is due, and the stack's IP task
    /// wakes by then. `None` (the default): the interrupt line says everything.
    fn wake_within(&self) -> Option<core::time::Duration> {
        None
    }

    /// Gives the card a way to hand received frames to the stack without an interrupt: a card
    /// that receives on a task which must not block (the simulator's idle task) calls
    /// `handler` first, and raises its interrupt line only if the handler returns `false` (the
    /// stack was busy). Cards that receive in interrupt context ignore it.
    fn set_receive_handler(&mut self, _handler: ReceiveHandler) {}

    /// The card's frame counters.
    fn counters(&self) -> LinkCounters;
}

impl<C: LinkCard + ?Sized> LinkCard for Box<C> {
    fn receive_into(&mut self, frame: &mut Frame) -> bool {
        (**self).receive_into(frame)
    }

    fn can_send(&mut self) -> bool {
        (**self).can_send()
    }

    fn send(&mut self, frame: &Frame) -> Result<(), RingFull> {
        (**self).send(frame)
    }

    fn interrupt_line(&self) -> u8 {
        (**self).interrupt_line()
    }

    fn service(&mut self) {
        (**self).service();
    }

    fn wake_within(&self) -> Option<core::time::Duration> {
        (**self).wake_within()
    }

    fn set_receive_handler(&mut self, handler: ReceiveHandler) {
        (**self).set_receive_handler(handler);
    }

    fn counters(&self) -> LinkCounters {
        (**self).counters()
    }
}
