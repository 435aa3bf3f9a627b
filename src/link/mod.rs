//! The link layer: Ethernet frames in and out of the device.
//!
//! A link is the device's network card. Its device-side end is a [`LinkPort`]: two lock-free
//! frame rings (like a card's DMA descriptor rings) plus a way to tell the card that frames
//! are waiting. The card tells the device about received frames through a simulated
//! interrupt line (see [`crate::rtos::interrupt`]), which the IP task is attached to.
//!
//! The simulator's card is [`slirp`]: libslirp's user-mode NAT, run by the kernel's own tasks, no root
//! needed. Host services on `127.0.0.1:P` are reached from the device at
//! [`slirp::HOST_ADDRESS`]`:P`.

pub mod pcap;
#[cfg(unix)]
pub mod slirp;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use heapless::spsc::{Consumer, Producer};

/// Largest Ethernet frame carried, without the frame check sequence (1500 B MTU + 14 B header).
pub const MAX_FRAME: usize = 1514;

/// Frames each ring holds. Enough for a 64 KiB TCP window of full-size segments.
pub const RING_FRAMES: usize = 64;

/// One Ethernet frame.
pub type Frame = heapless::Vec<u8, MAX_FRAME>;

/// Counters kept by a link, readable from any thread.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Frames delivered to the device.
    pub rx_frames: AtomicU64,
    /// Frames dropped on the way in because the device's receive ring was full.
    pub rx_dropped: AtomicU64,
    /// Frames sent by the device.
    pub tx_frames: AtomicU64,
}

impl LinkStats {
    /// A snapshot: (received, dropped on receive, sent).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.rx_frames.load(Ordering::Relaxed),
            self.rx_dropped.load(Ordering::Relaxed),
            self.tx_frames.load(Ordering::Relaxed),
        )
    }
}

/// A frame ring had no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingFull;

/// What the device's driver can ask of the card.
pub trait CardControl: Send {
    /// The device queued frames in the transmit ring: the card takes them (a card with a
    /// thread of its own is woken; slirp takes them at once). Called from a task; must not
    /// block on kernel objects.
    fn frames_queued(&self);

    /// Deferred work of a card, run by the IP task on each of its wake-ups (the card's line
    /// wakes it). Nothing by default.
    fn service(&self) {}

    /// Gives the card a way to hand received frames to the stack without an interrupt: a card
    /// that receives on a task which must not block (the simulator's idle task) calls
    /// `handler` first, and raises its interrupt line only if the handler returns `false`
    /// (the stack was busy). Cards that receive in interrupt context ignore it.
    fn set_receive_handler(&self, _handler: ReceiveHandler) {}
}

/// Serves received frames at once if the stack is free; `false` if it could not without
/// waiting. Called on a task, with the scheduler suspended.
pub type ReceiveHandler = &'static (dyn Fn() -> bool + Sync);

/// The device-side end of a link, owned by the IP task.
pub struct LinkPort {
    /// Frames from the network.
    pub(crate) rx: Consumer<'static, Frame>,
    /// Frames to the network.
    pub(crate) tx: Producer<'static, Frame>,
    /// The card itself.
    pub(crate) card: Box<dyn CardControl>,
    /// Set by the device when `tx` was full, so the card raises the interrupt once it has
    /// made room.
    pub(crate) tx_blocked: &'static AtomicBool,
    /// The card's counters.
    pub stats: &'static LinkStats,
    /// The interrupt line the card raises for received frames (and for room in `tx`).
    pub interrupt_line: u8,
}

impl LinkPort {
    /// Takes the next received frame, if any.
    pub fn receive(&mut self) -> Option<Frame> {
        self.rx.dequeue()
    }

    /// Whether a frame can be queued for sending now. If not, the card is asked to raise the
    /// interrupt line once there is room.
    pub fn can_send(&mut self) -> bool {
        if self.tx.ready() {
            true
        } else {
            self.tx_blocked.store(true, Ordering::SeqCst);
            // Re-check: the card may have drained the ring between the two lines above.
            self.tx.ready()
        }
    }

    /// Queues a frame for the network and tells the card. If the ring is full the frame is
    /// dropped (check [`can_send`](Self::can_send) first).
    pub fn send(&mut self, frame: Frame) -> Result<(), RingFull> {
        self.tx.enqueue(frame).map_err(|_| RingFull)?;
        self.stats.tx_frames.fetch_add(1, Ordering::Relaxed);
        self.card.frames_queued();
        Ok(())
    }

    /// Lets the card do its deferred work; the IP task calls this on every wake-up.
    pub fn service(&mut self) {
        self.card.service();
    }

    /// See [`CardControl::set_receive_handler`].
    pub fn set_receive_handler(&mut self, handler: ReceiveHandler) {
        self.card.set_receive_handler(handler);
    }
}
