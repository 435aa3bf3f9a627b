//! A card's device end as two lock-free frame rings, like a card's DMA descriptor rings.
//!
//! The card's "hardware" side (slirp on the simulator) fills the receive ring and drains the
//! transmit ring; [`RingCard`] is the other end, a [`LinkCard`] for the stack. The rings are
//! single-producer single-consumer queues, so the two sides never share a lock. What the
//! device must ask of the hardware side goes through [`CardControl`].

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use alloc::boxed::Box;
use heapless::spsc::{Consumer, Producer};

use super::{Frame, LinkCard, LinkCounters, ReceiveHandler, RingFull};

/// Frames each ring holds. Enough for a 64 KiB TCP window of full-size segments.
pub const RING_FRAMES: usize = 64;

/// Counters a ring-based card keeps, readable from any thread. Word-sized, because 32-bit
/// boards have no 64-bit atomics; they wrap after 2^32 frames there.
#[derive(Debug, Default)]
pub struct RingStats {
    /// Frames delivered to the device.
    pub rx_frames: AtomicUsize,
    /// Frames dropped on the way in because the device's receive ring was full.
    pub rx_dropped: AtomicUsize,
    /// Frames sent by the device.
    pub tx_frames: AtomicUsize,
}

impl RingStats {
    /// Zeroed counters, for a `static`.
    pub const fn new() -> RingStats {
        RingStats {
            rx_frames: AtomicUsize::new(0),
            rx_dropped: AtomicUsize::new(0),
            tx_frames: AtomicUsize::new(0),
        }
    }

    /// A snapshot.
    pub fn snapshot(&self) -> LinkCounters {
        LinkCounters {
            received: self.rx_frames.load(Ordering::Relaxed) as u64,
            dropped: self.rx_dropped.load(Ordering::Relaxed) as u64,
            sent: self.tx_frames.load(Ordering::Relaxed) as u64,
        }
    }
}

/// What the device end asks of the card's hardware side.
pub trait CardControl: Send {
    /// The device queued frames in the transmit ring: the card takes them (a card with a
    /// thread of its own is woken; slirp takes them at once). Called from a task; must not
    /// block on kernel objects.
    fn frames_queued(&self);

    /// See [`LinkCard::service`]. Nothing by default.
    fn service(&self) {}

    /// See [`LinkCard::set_receive_handler`]. Ignored by default.
    fn set_receive_handler(&self, _handler: ReceiveHandler) {}
}

/// The device end of a ring-based card.
pub struct RingCard {
    /// Frames from the network.
    rx: Consumer<'static, Frame>,
    /// Frames to the network.
    tx: Producer<'static, Frame>,
    /// The card's hardware side.
    control: Box<dyn CardControl>,
    /// Set by the device when `tx` was full, so the card raises the interrupt once it has
    /// made room.
    tx_blocked: &'static AtomicBool,
    stats: &'static RingStats,
    interrupt_line: u8,
}

impl RingCard {
    /// Joins the device's ends of the two rings to the card's hardware side. The card raises
    /// `interrupt_line` for received frames, and for room in `tx` once `tx_blocked` is set.
    pub fn new(
        rx: Consumer<'static, Frame>,
        tx: Producer<'static, Frame>,
        control: Box<dyn CardControl>,
        tx_blocked: &'static AtomicBool,
        stats: &'static RingStats,
        interrupt_line: u8,
    ) -> RingCard {
        RingCard {
            rx,
            tx,
            control,
            tx_blocked,
            stats,
            interrupt_line,
        }
    }
}

impl LinkCard for RingCard {
    fn receive_into(&mut self, frame: &mut Frame) -> bool {
        // The ring's slots are frames; a simulator's card (the only user) has stack to spare
        // for the one taken out.
        match self.rx.dequeue() {
            Some(received) => {
                *frame = received;
                true
            }
            None => false,
        }
    }

    fn can_send(&mut self) -> bool {
        if self.tx.ready() {
            true
        } else {
            self.tx_blocked.store(true, Ordering::SeqCst);
            // Re-check: the card may have drained the ring between the two lines above.
            self.tx.ready()
        }
    }

    fn send(&mut self, frame: &Frame) -> Result<(), RingFull> {
        self.tx.enqueue(frame.clone()).map_err(|_| RingFull)?;
        self.stats.tx_frames.fetch_add(1, Ordering::Relaxed);
        self.control.frames_queued();
        Ok(())
    }

    fn interrupt_line(&self) -> u8 {
        self.interrupt_line
    }

    fn service(&mut self) {
        self.control.service();
    }

    fn set_receive_handler(&mut self, handler: ReceiveHandler) {
        self.control.set_receive_handler(handler);
    }

    fn counters(&self) -> LinkCounters {
        self.stats.snapshot()
    }
}
