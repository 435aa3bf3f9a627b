//! The SMSC LAN9118 Ethernet controller (QEMU's `-nic user,model=lan9118` on mps2-an386), as a
//! [`LinkCard`]. Written from the datasheet's register model.
//!
//! The chip is a MAC and PHY behind a register window: frames go out through the TX data FIFO
//! (two command words, then the frame in 32-bit words) and come in through the RX status
//! FIFO (one word per frame: its length and error flags) and the RX data FIFO (the frame,
//! including its 4-byte frame check sequence, padded to whole words). The MAC's own registers
//! are reached indirectly through `MAC_CSR_CMD`/`MAC_CSR_DATA`, and the PHY's through the MAC's
//! MII registers.
//!
//! # Interrupts
//!
//! The chip's interrupt output is level-triggered. The handler ([`on_interrupt`]) masks every
//! source (`INT_EN` = 0) and raises the card's interrupt line, which wakes the IP task. The
//! task then drains the RX FIFO; [`LinkCard::receive_into`] re-enables the sources only once
//! it has found the FIFO empty *after* clearing the status bit, so a frame that lands in between
//! fires the interrupt again instead of waiting. Only the task writes a non-zero `INT_EN`
//! and every mask by the handler comes with a raise, so no wake-up is lost.
//!
//! # Frame lengths
//!
//! A received frame occupies exactly `ceil(length / 4)` words of the RX data FIFO, where
//! `length` (from its status word) includes the frame check sequence. Reading one word more
//! when the length is a multiple of four would eat the first word of the next frame.
//!
//! An FFI module: it drives memory-mapped hardware.
#![allow(unsafe_code)]

use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::link::{Frame, LinkCard, LinkCounters, MAX_FRAME, RingFull};
use crate::rtos::interrupt::{InterruptRaiser, InvalidLine};

/// The controller's register window on mps2-an385/an386.
const BASE: usize = 0x4020_0000;
/// Its interrupt number (the NVIC's external interrupt 13 on mps2-an385/an386).
pub const IRQ: i16 = 13;
/// Its NVIC priority: below the kernel's `configMAX_SYSCALL_INTERRUPT_PRIORITY` (0xA0), as the
/// handler calls the kernel's `FromISR` API.
const IRQ_PRIORITY: u8 = 0xC0;

// Registers (byte offsets in the window).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const ID_REV: usize = 0x50;
const IRQ_CFG: usize = 0x54;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5C;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7C;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xA4;
const MAC_CSR_DATA: usize = 0xA8;

/// What `BYTE_TEST` reads on any LAN9118-family chip whatever the bus's byte order.
const BYTE_TEST_PATTERN: u32 = 0x8765_4321;

// Bits.
const IRQ_CFG_IRQ_EN: u32 = 1 << 8;
const IRQ_CFG_IRQ_POL_HIGH: u32 = 1 << 4;
const IRQ_CFG_IRQ_TYPE_PUSH_PULL: u32 = 1 << 0;
/// RX status FIFO level: a received frame is waiting.
const INT_RSFL: u32 = 1 << 3;
/// TX data FIFO available: room to send came back.
const INT_TDFA: u32 = 1 << 9;
const TX_CFG_TX_ON: u32 = 1 << 1;
/// Let the TX status FIFO overrun: nothing here waits for a frame's send status.
const TX_CFG_TXSAO: u32 = 1 << 2;
const HW_CFG_SRST: u32 = 1 << 0;
const PMT_CTRL_READY: u32 = 1 << 0;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const RX_STATUS_ERROR: u32 = 1 << 15;
const TX_CMD_A_FIRST_SEGMENT: u32 = 1 << 13;
const TX_CMD_A_LAST_SEGMENT: u32 = 1 << 12;

// MAC registers (indirect).
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_MII_ACC: u32 = 6;
const MAC_MII_DATA: u32 = 7;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_FULL_DUPLEX: u32 = 1 << 20;
const MII_BUSY: u32 = 1 << 0;
/// The internal PHY's address on the MII bus.
const PHY_ADDRESS: u32 = 1;
/// PHY basic status register, and its "link is up" bit.
const PHY_BMSR: u32 = 1;
const PHY_BMSR_LINK_UP: u16 = 1 << 2;

/// Bytes the TX data FIFO must have free for a whole frame: its two command words and the
/// largest frame.
const TX_ROOM_NEEDED: u32 = (MAX_FRAME as u32).div_ceil(4) * 4 + 8;
/// Polls of a busy bit before the chip counts as hung (each poll is one bus read; QEMU's chip
/// answers at once, real silicon within microseconds).
const BUSY_POLLS: u32 = 100_000;

/// The interrupt line the handler raises (set once by [`Lan9118::start`]).
static LINE: AtomicU8 = AtomicU8::new(u8::MAX);
/// The chip has a driver: there is one chip, so at most one [`Lan9118`].
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Why the card could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// The card was started already.
    AlreadyStarted,
    /// No LAN9118 answers at the board's address (`BYTE_TEST` read this instead of
    /// 0x87654321): QEMU was started without `-nic ...,model=lan9118`?
    NotFound(u32),
    /// The chip did not leave reset, or a MAC/PHY register access never finished.
    Hung(&'static str),
    /// The interrupt line does not exist.
    Line(InvalidLine),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("LAN9118: the card is started already"),
            StartError::NotFound(read) => write!(
                f,
                "LAN9118: no chip at {BASE:#x} (BYTE_TEST read {read:#010x}); give QEMU \
                 -nic user,model=lan9118"
            ),
            StartError::Hung(what) => write!(f, "LAN9118: {what} never finished"),
            StartError::Line(error) => write!(f, "LAN9118: {error}"),
        }
    }
}

impl core::error::Error for StartError {}

/// Reads a chip register.
fn read(offset: usize) -> u32 {
    // SAFETY: BASE + offset is one of the chip's 32-bit registers in the board's device
    // region (fixed by the mps2-an386 memory map); reading it has no effect on memory.
    unsafe { ptr::read_volatile((BASE + offset) as *const u32) }
}

/// Writes a chip register.
fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`; the register belongs to the chip, not to any Rust object.
    unsafe { ptr::write_volatile((BASE + offset) as *mut u32, value) }
}

/// Waits until `done` holds, at most [`BUSY_POLLS`] times.
fn wait_until(what: &'static str, mut done: impl FnMut() -> bool) -> Result<(), StartError> {
    for _ in 0..BUSY_POLLS {
        if done() {
            return Ok(());
        }
    }
    Err(StartError::Hung(what))
}

fn mac_read(register: u32) -> Result<u32, StartError> {
    write(MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | register);
    wait_until("a MAC register read", || {
        read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0
    })?;
    Ok(read(MAC_CSR_DATA))
}

fn mac_write(register: u32, value: u32) -> Result<(), StartError> {
    write(MAC_CSR_DATA, value);
    write(MAC_CSR_CMD, MAC_CSR_BUSY | register);
    wait_until("a MAC register write", || {
        read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0
    })
}

fn phy_read(register: u32) -> Result<u16, StartError> {
    let idle = || mac_read(MAC_MII_ACC).map(|access| access & MII_BUSY == 0);
    mac_write(
        MAC_MII_ACC,
        (PHY_ADDRESS << 11) | (register << 6) | MII_BUSY,
    )?;
    for _ in 0..BUSY_POLLS {
        if idle()? {
            return Ok(mac_read(MAC_MII_DATA)? as u16);
        }
    }
    Err(StartError::Hung("a PHY register read"))
}

/// The LAN9118 driver (see the module docs).
pub struct Lan9118 {
    line: u8,
    /// A send found no room: the TDFA interrupt is wanted until there is.
    waiting_for_room: bool,
    counters: LinkCounters,
}

impl Lan9118 {
    /// Resets the chip, gives it `mac`, turns the MAC on and enables its interrupt, which
    /// raises interrupt line `line`. No delay beyond the chip's own reset time.
    pub fn start(mac: [u8; 6], line: u8) -> Result<Lan9118, StartError> {
        InterruptRaiser::new(line).map_err(StartError::Line)?;
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(StartError::AlreadyStarted);
        }
        let pattern = read(BYTE_TEST);
        if pattern != BYTE_TEST_PATTERN {
            return Err(StartError::NotFound(pattern));
        }
        write(HW_CFG, HW_CFG_SRST);
        wait_until("the soft reset", || read(HW_CFG) & HW_CFG_SRST == 0)?;
        wait_until("the power-up", || read(PMT_CTRL) & PMT_CTRL_READY != 0)?;
        write(INT_EN, 0);
        write(INT_STS, u32::MAX);
        // Active-high, push-pull: the polarity the NVIC input expects.
        write(
            IRQ_CFG,
            IRQ_CFG_IRQ_EN | IRQ_CFG_IRQ_POL_HIGH | IRQ_CFG_IRQ_TYPE_PUSH_PULL,
        );
        mac_write(
            MAC_ADDRL,
            u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        )?;
        mac_write(MAC_ADDRH, u32::from(mac[4]) | (u32::from(mac[5]) << 8))?;
        let link_up = phy_read(PHY_BMSR)? & PHY_BMSR_LINK_UP != 0;
        mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FULL_DUPLEX)?;
        write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        log::info!(
            "LAN9118 (id {:#010x}) started, link {}.",
            read(ID_REV),
            if link_up { "up" } else { "down" }
        );
        LINE.store(line, Ordering::Release);
        enable_in_nvic();
        let card = Lan9118 {
            line,
            waiting_for_room: false,
            counters: LinkCounters::default(),
        };
        card.enable_interrupts();
        Ok(card)
    }

    /// Unmasks the sources the driver waits for: a received frame, and room to send if a
    /// send is waiting for it.
    fn enable_interrupts(&self) {
        let room = if self.waiting_for_room { INT_TDFA } else { 0 };
        write(INT_EN, INT_RSFL | room);
    }

    /// Frames whose status words wait in the RX status FIFO.
    fn frames_waiting() -> u32 {
        (read(RX_FIFO_INF) >> 16) & 0xFF
    }

    /// Free bytes in the TX data FIFO.
    fn tx_room() -> u32 {
        read(TX_FIFO_INF) & 0xFFFF
    }

    /// Reads one frame of `length` bytes (FCS included) from the RX data FIFO into `frame`:
    /// exactly `ceil(length / 4)` words. Keeps it without the FCS; `false` if it does not fit
    /// a [`Frame`] (its words are still consumed, and `frame` is left empty).
    fn read_frame(length: usize, frame: &mut Frame) -> bool {
        let words = length.div_ceil(4);
        let payload = length.checked_sub(4).filter(|len| *len <= MAX_FRAME);
        frame.clear();
        if let Some(payload) = payload {
            // Cannot fail: `payload` is at most the capacity.
            let _ = frame.resize(payload, 0);
        }
        for word in 0..words {
            let bytes = read(RX_DATA_FIFO).to_le_bytes();
            let start = word * 4;
            let end = (start + 4).min(frame.len());
            if start < end {
                frame[start..end].copy_from_slice(&bytes[..end - start]);
            }
        }
        payload.is_some()
    }
}

impl LinkCard for Lan9118 {
    fn receive_into(&mut self, frame: &mut Frame) -> bool {
        loop {
            if Lan9118::frames_waiting() == 0 {
                // Clear the level bit first, then look again: a frame landing after the
                // clear sets it anew and fires once the sources are enabled.
                write(INT_STS, INT_RSFL);
                if Lan9118::frames_waiting() == 0 {
                    self.enable_interrupts();
                    return false;
                }
            }
            let status = read(RX_STATUS_FIFO);
            let length = ((status >> 16) & 0x3FFF) as usize;
            if Lan9118::read_frame(length, frame) && status & RX_STATUS_ERROR == 0 {
                self.counters.received += 1;
                return true;
            }
            self.counters.dropped += 1;
        }
    }

    fn can_send(&mut self) -> bool {
        // Send statuses are not used (TXSAO): drop any that queued up.
        let statuses = (read(TX_FIFO_INF) >> 16) & 0xFF;
        for _ in 0..statuses {
            let _ = read(TX_STATUS_FIFO);
        }
        if Lan9118::tx_room() >= TX_ROOM_NEEDED {
            self.waiting_for_room = false;
            return true;
        }
        write(INT_STS, INT_TDFA);
        if Lan9118::tx_room() >= TX_ROOM_NEEDED {
            self.waiting_for_room = false;
            return true;
        }
        self.waiting_for_room = true;
        self.enable_interrupts();
        false
    }

    fn send(&mut self, frame: &Frame) -> Result<(), RingFull> {
        if !self.can_send() {
            return Err(RingFull);
        }
        let length = frame.len() as u32;
        // One buffer holds the whole frame, word-aligned, starting at offset 0.
        write(
            TX_DATA_FIFO,
            TX_CMD_A_FIRST_SEGMENT | TX_CMD_A_LAST_SEGMENT | length,
        );
        // Command B: a packet tag (the length, as the datasheet suggests) and the length.
        write(TX_DATA_FIFO, (length << 16) | length);
        let mut chunks = frame.chunks_exact(4);
        for chunk in &mut chunks {
            write(
                TX_DATA_FIFO,
                u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            );
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 4];
            last[..rest.len()].copy_from_slice(rest);
            write(TX_DATA_FIFO, u32::from_le_bytes(last));
        }
        self.counters.sent += 1;
        Ok(())
    }

    fn interrupt_line(&self) -> u8 {
        self.line
    }

    fn counters(&self) -> LinkCounters {
        self.counters
    }
}

/// The chip's interrupt handler (called from the board's vector table): masks the chip's
/// sources and wakes the task attached to the card's line.
pub(super) fn on_interrupt() {
    write(INT_EN, 0);
    if let Ok(raiser) = InterruptRaiser::new(LINE.load(Ordering::Acquire)) {
        raiser.raise();
    }
}

/// Sets the chip's NVIC priority and enables it.
fn enable_in_nvic() {
    const NVIC_ISER0: usize = 0xE000_E100;
    const NVIC_IPR0: usize = 0xE000_E400;
    let irq = IRQ as usize;
    // SAFETY: the NVIC's priority byte and set-enable word for this interrupt are system
    // registers of the Cortex-M4 (fixed addresses); the handler they enable is in the vector
    // table, and the chip's sources are masked until `enable_interrupts`.
    unsafe {
        ptr::write_volatile((NVIC_IPR0 + irq) as *mut u8, IRQ_PRIORITY);
        ptr::write_volatile((NVIC_ISER0 + irq / 32 * 4) as *mut u32, 1 << (irq % 32));
    }
}
