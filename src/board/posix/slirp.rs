//! The simulator's network card: libslirp user-mode networking, served by the kernel's own
//! tasks.
//!
//! libslirp (Debian `libslirp-dev`, bound by the `libslirp-sys` crate) is a user-mode NAT:
//! the device's Ethernet frames go in, and slirp turns them into ordinary host sockets. No
//! root, no TAP device. Its virtual network is `10.0.2.0/24`: the gateway and host alias
//! is [`HOST_ADDRESS`] (`10.0.2.2`; connections to it reach the host's `127.0.0.1`), DHCP
//! hands out [`DHCP_FIRST_ADDRESS`] (`10.0.2.15`), and DNS is forwarded at [`DNS_ADDRESS`].
//!
//! # Who runs slirp
//!
//! No host thread: slirp is the card's "hardware", and it runs on the task that needs it, with
//! the scheduler suspended so that only one task is ever inside it:
//!
//! * **Transmit**: the task that queues a frame (a socket caller sending inline, or the IP
//!   task) hands it to `slirp_input` at once, which writes it to the host socket. No thread
//!   hand-off on the way out.
//! * **Receive**: when nothing is ready to run, the idle task sleeps in `poll(2)` on slirp's
//!   descriptors (the idle poll, described in [`super::idle`]). When a host socket has data,
//!   the idle task lets slirp read it, and frames for the device go into the receive ring.
//!   The stack takes them right there if it is free (its receive handler, see
//!   [`LinkCard::set_receive_handler`](crate::link::LinkCard::set_receive_handler)), so the
//!   task waiting for the data runs next; otherwise the card raises its interrupt line, which
//!   wakes the IP task.
//! * **Busy device**: if tasks keep the idle task from running for [`STARVED_AFTER`] ticks,
//!   the tick raises the card's line anyway, and the IP task serves slirp without waiting
//!   (see [`LinkCard::service`](crate::link::LinkCard::service)). A card on a board works
//!   while the CPU is busy; so does this one, within two ticks.
//!
//! If another task used slirp while the idle task slept, slirp's list of descriptors may have
//! changed, so the idle task drops what it saw and plans again (a generation counter tells):
//! `poll` is level-triggered, so nothing is lost. One narrow window remains: a signal that
//! switches away from the idle task between its plan and its `poll` (after the scheduler
//! resumed) leaves it polling an outdated list; the next tick ends that sleep, so a change
//! waits one tick at most.
//!
//! This module is an FFI module: its `unsafe` blocks call libslirp and libc.
#![allow(unsafe_code)]

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::ffi::{c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::Instant;

use heapless::spsc::{Consumer, Producer, Queue};
use libslirp_sys as sys;

use super::idle::{self, PollResults, PollSet};
use crate::link::ring::{CardControl, RING_FRAMES, RingCard, RingStats};
use crate::link::{Frame, ReceiveHandler};
use crate::net::Ipv4Settings;
use crate::rtos::critical::SchedulerSuspended;
use crate::rtos::interrupt::InterruptRaiser;
use crate::rtos::task;
use crate::rtos::time::Ticks;

/// The slirp network's gateway, which is also the host: `10.0.2.2:P` reaches `127.0.0.1:P`.
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// slirp's DNS forwarder (it forwards to the host's first resolver, which may be off this
/// machine: tests never use it).
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The address slirp's DHCP server hands out first.
pub const DHCP_FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
/// The slirp network and its prefix length.
pub const NETWORK: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 0, 2, 0), 24);

/// The fixed settings that match slirp's network: `10.0.2.15/24`, gateway `10.0.2.2`, DNS
/// `10.0.2.3`.
pub fn static_settings() -> Ipv4Settings {
    Ipv4Settings {
        address: DHCP_FIRST_ADDRESS,
        prefix_len: NETWORK.1,
        gateway: Some(HOST_ADDRESS),
        dns: Some(DNS_ADDRESS),
    }
}

/// Ticks without the idle task after which the IP task serves slirp itself.
pub const STARVED_AFTER: Ticks = Ticks::new(2);

/// Longest time the idle task sleeps in `poll` when slirp asks for nothing sooner, in
/// milliseconds (the tick interrupts it long before).
const MAX_POLL_MS: u32 = 1000;

/// Why the link could not start.
#[derive(Debug)]
pub enum StartError {
    /// A slirp link already runs in this process (its rings are static, like a card's).
    AlreadyStarted,
    /// `slirp_new` refused the configuration.
    SlirpRefused,
    /// The interrupt line does not exist.
    InterruptLine(crate::rtos::interrupt::InvalidLine),
    /// Called from a task: the card is started in `main`, before the scheduler.
    CalledFromTask,
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::AlreadyStarted => f.write_str("the slirp link is already running"),
            StartError::SlirpRefused => f.write_str("libslirp refused the network configuration"),
            StartError::InterruptLine(error) => write!(f, "slirp link: {error}"),
            StartError::CalledFromTask => {
                f.write_str("the slirp link must be started before the scheduler, not from a task")
            }
        }
    }
}

impl core::error::Error for StartError {}

static STARTED: AtomicBool = AtomicBool::new(false);
static TX_BLOCKED: AtomicBool = AtomicBool::new(false);
static STATS: RingStats = RingStats::new();
static mut TO_DEVICE: Queue<Frame, { RING_FRAMES + 1 }> = Queue::new();
static mut FROM_DEVICE: Queue<Frame, { RING_FRAMES + 1 }> = Queue::new();

/// The card, once started. Shared between tasks, but see [`ExclusiveCard`].
static CARD: OnceLock<ExclusiveCard> = OnceLock::new();

/// The stack's way to take received frames on the idle task (see
/// [`CardControl::set_receive_handler`]).
static RECEIVE_HANDLER: OnceLock<ReceiveHandler> = OnceLock::new();

/// Starts the slirp link and returns the device's end of it. The link raises
/// `interrupt_line` for received frames; the network stack attaches that line to its IP task.
///
/// One link per process. Call it from `main` before the scheduler starts (the simulated card
/// exists before the kernel boots).
pub fn start(interrupt_line: u8) -> Result<RingCard, StartError> {
    let raiser = InterruptRaiser::new(interrupt_line).map_err(StartError::InterruptLine)?;
    if task::in_task() {
        // slirp is only ever entered with the scheduler suspended; creating it from a task
        // would need the same, and there is no reason to: the card exists before the kernel.
        return Err(StartError::CalledFromTask);
    }
    if STARTED.swap(true, Ordering::SeqCst) {
        return Err(StartError::AlreadyStarted);
    }
    // SAFETY: `STARTED` guarantees this runs once per process, so these are the only
    // references ever made to the two static rings; each is split once into its two ends.
    let (to_device, from_device) = unsafe {
        (
            (*ptr::addr_of_mut!(TO_DEVICE)).split(),
            (*ptr::addr_of_mut!(FROM_DEVICE)).split(),
        )
    };
    let (to_device_producer, to_device_consumer) = to_device;
    let (from_device_producer, from_device_consumer) = from_device;
    let card = CARD.get_or_init(|| {
        ExclusiveCard(SlirpCard {
            slirp: Cell::new(ptr::null_mut()),
            to_device: RefCell::new(to_device_producer),
            from_device: RefCell::new(from_device_consumer),
            raiser,
            clock_start: Instant::now(),
            timers: RefCell::new(Vec::new()),
            pollfds: RefCell::new(Vec::with_capacity(16)),
            generation: AtomicU64::new(0),
            idle_generation: Cell::new(0),
            idle_due_ms: Cell::new(None),
            delivered: Cell::new(false),
        })
    });
    let config = slirp_config();
    let opaque = (&card.0 as *const SlirpCard).cast_mut().cast::<c_void>();
    // SAFETY: the config and callback table are valid for the call (slirp copies the config
    // and keeps a pointer to the static table); `opaque` points into `CARD`, which lives for
    // the rest of the process. No task runs yet, so nothing else is inside slirp.
    let slirp = unsafe { sys::slirp_new(&config, &CALLBACKS, opaque) };
    if slirp.is_null() {
        return Err(StartError::SlirpRefused);
    }
    card.0.slirp.set(slirp);
    idle::install_poller(&IdleService).map_err(|_| StartError::AlreadyStarted)?;
    idle::raise_when_starved(interrupt_line, STARVED_AFTER).map_err(StartError::InterruptLine)?;
    Ok(RingCard::new(
        to_device_consumer,
        from_device_producer,
        Box::new(SlirpControl),
        &TX_BLOCKED,
        &STATS,
        interrupt_line,
    ))
}

/// The card as the device's driver reaches it.
struct SlirpControl;

impl CardControl for SlirpControl {
    fn frames_queued(&self) {
        with_card(SlirpCard::forward_device_frames);
    }

    fn set_receive_handler(&self, handler: ReceiveHandler) {
        let _ = RECEIVE_HANDLER.set(handler);
    }

    fn service(&self) {
        // While the idle task runs, it serves slirp the moment anything is ready.
        if idle::ticks_since_idle_ran().count() < STARVED_AFTER.count() {
            return;
        }
        with_card(SlirpCard::poll_without_waiting);
    }
}

/// The card behind the lock that protects it: the scheduler suspended.
///
/// slirp is not thread-safe, and every task is its own host thread on the POSIX port. Every
/// use of the card (`with_card`) happens on a task with the scheduler suspended, so no other
/// task can run, let alone enter slirp, until it is done (the idle task's poll runs on the
/// hook's own copy of the descriptors). Before the scheduler starts only
/// `start` touches it.
struct ExclusiveCard(SlirpCard);

// SAFETY: see the type's documentation: access is serialized by scheduler suspension (or
// happens before the scheduler starts), so the cells and raw pointers inside are never used
// by two threads at once, and suspending and resuming the scheduler orders the accesses.
unsafe impl Sync for ExclusiveCard {}
// SAFETY: as above; the card is created on the main thread and then only used by tasks.
unsafe impl Send for ExclusiveCard {}

/// Runs `f` on the card with the scheduler suspended. Call from a task.
fn with_card<R>(f: impl FnOnce(&SlirpCard) -> R) -> Option<R> {
    let _exclusive = SchedulerSuspended::enter();
    with_card_suspended(f)
}

/// Runs `f` on the card; the caller has suspended the scheduler (the idle hook does).
fn with_card_suspended<R>(f: impl FnOnce(&SlirpCard) -> R) -> Option<R> {
    let card = CARD.get()?;
    let result = f(&card.0);
    card.0.raise_if_delivered();
    Some(result)
}

/// The idle task's side of the card (see the module documentation).
struct IdleService;

// Both methods run with the scheduler suspended by the idle hook (see `super::idle`).
impl idle::IdlePoller for IdleService {
    fn prepare(&self, set: &mut PollSet<'_>) -> Option<i32> {
        with_card_suspended(|card| card.prepare_idle_wait(set)).flatten()
    }

    fn finish(&self, results: &PollResults<'_>, ready: Result<usize, i32>) {
        let Some(card) = CARD.get() else { return };
        card.0.finish_idle_wait(results, ready);
        // Frames arrived: the stack takes them right here if it is free, and the task waiting
        // for them runs next, without a detour through the IP task. Otherwise, the interrupt.
        if card.0.delivered.get() && RECEIVE_HANDLER.get().is_some_and(|handler| handler()) {
            card.0.delivered.set(false);
        }
        card.0.raise_if_delivered();
    }
}

/// A timer slirp asked for.
struct SlirpTimer {
    callback: sys::SlirpTimerCb,
    callback_opaque: *mut c_void,
    /// Expiry in milliseconds of the link clock, when armed.
    expires_ms: Cell<Option<i64>>,
}

/// Everything the slirp callbacks reach. The callbacks get a shared reference (slirp calls
/// back while we are inside it), so all mutable state is in cells.
struct SlirpCard {
    slirp: Cell<*mut sys::Slirp>,
    to_device: RefCell<Producer<'static, Frame>>,
    from_device: RefCell<Consumer<'static, Frame>>,
    raiser: InterruptRaiser,
    clock_start: Instant,
    timers: RefCell<Vec<*mut SlirpTimer>>,
    /// The descriptors slirp last asked for, with their results once polled.
    pollfds: RefCell<Vec<libc::pollfd>>,
    /// The generation the idle task's poll set was copied at.
    idle_generation: Cell<u64>,
    /// When slirp's timers are next due, in link-clock milliseconds, as first planned since
    /// slirp last ran them. Kept across the idle task's re-plans (every tick ends its sleep),
    /// which may only move it earlier: a deadline re-armed relative to each new plan would never
    /// come, and slirp would never retransmit a lost frame.
    idle_due_ms: Cell<Option<i64>>,
    /// Counts every entry into slirp, so the idle task can tell whether what it polled is
    /// still what slirp knows. Atomic so that it can be read outside the exclusive section.
    generation: AtomicU64,
    /// Frames were queued for the device since the interrupt was last raised.
    delivered: Cell<bool>,
}

impl SlirpCard {
    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock_start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn opaque(&self) -> *mut c_void {
        (self as *const SlirpCard).cast_mut().cast()
    }

    fn entered(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn raise_if_delivered(&self) {
        if self.delivered.replace(false) {
            self.raiser.raise();
        }
    }

    /// Milliseconds until the next armed timer, if any.
    fn next_timer_ms(&self) -> Option<u32> {
        let now = self.now_ms();
        self.timers
            .borrow()
            .iter()
            // SAFETY: every pointer in `timers` is a live Box made by `timer_new` and removed
            // from the list before `timer_free` drops it.
            .filter_map(|&timer| unsafe { (*timer).expires_ms.get() })
            .map(|expires| u32::try_from((expires - now).max(0)).unwrap_or(u32::MAX))
            .min()
    }

    /// Runs the callbacks of expired timers. A callback may arm or free timers, so none of
    /// the cells is borrowed while one runs.
    fn fire_timers(&self) {
        let now = self.now_ms();
        let expired: Vec<*mut SlirpTimer> = self
            .timers
            .borrow()
            .iter()
            .copied()
            // SAFETY: as in `next_timer_ms`.
            .filter(|&timer| unsafe { (*timer).expires_ms.get() }.is_some_and(|at| at <= now))
            .collect();
        for timer in expired {
            if !self.timers.borrow().contains(&timer) {
                continue; // freed by an earlier callback in this round
            }
            // SAFETY: still registered, so still alive; slirp's callback gets its own opaque.
            unsafe {
                (*timer).expires_ms.set(None);
                if let Some(callback) = (*timer).callback {
                    callback((*timer).callback_opaque);
                }
            }
        }
    }

    /// Hands frames the device queued to slirp.
    fn forward_device_frames(&self) {
        let mut forwarded = false;
        loop {
            let frame = self.from_device.borrow_mut().dequeue();
            let Some(frame) = frame else { break };
            forwarded = true;
            self.entered();
            // SAFETY: the card's live context, entered exclusively (see `ExclusiveCard`); the
            // frame outlives the call and slirp copies what it keeps. Callbacks reached from
            // here borrow other cells.
            unsafe { sys::slirp_input(self.slirp.get(), frame.as_ptr(), frame.len() as c_int) };
        }
        // The device may be waiting for room in its transmit ring.
        if forwarded && TX_BLOCKED.swap(false, Ordering::SeqCst) {
            self.raiser.raise();
        }
    }

    /// Asks slirp which descriptors it waits for; returns the timeout it wants, in ms.
    fn fill_pollfds(&self) -> u32 {
        self.pollfds.borrow_mut().clear();
        let mut timeout_ms: u32 = MAX_POLL_MS;
        self.entered();
        // SAFETY: live context, entered exclusively; `on_add_poll` pushes to `pollfds`
        // through the opaque pointer, and no borrow of it is held across this call.
        unsafe {
            sys::slirp_pollfds_fill(
                self.slirp.get(),
                &mut timeout_ms,
                Some(on_add_poll),
                self.opaque(),
            )
        };
        match self.next_timer_ms() {
            Some(timer_ms) => timeout_ms.min(timer_ms),
            None => timeout_ms,
        }
    }

    /// Lets slirp act on the results in `pollfds`, then runs its timers.
    fn dispatch(&self, select_error: bool) {
        self.entered();
        self.idle_due_ms.set(None);
        // SAFETY: live context, entered exclusively; `on_get_revents` reads `pollfds`.
        unsafe {
            sys::slirp_pollfds_poll(
                self.slirp.get(),
                c_int::from(select_error),
                Some(on_get_revents),
                self.opaque(),
            )
        };
        self.fire_timers();
    }

    /// One round without sleeping: poll slirp's descriptors with a zero timeout and act.
    fn poll_without_waiting(&self) {
        self.forward_device_frames();
        self.read_host_sockets();
    }

    /// Lets slirp read (and write) whatever its host sockets are ready for now, without
    /// sleeping.
    fn read_host_sockets(&self) {
        self.fill_pollfds();
        let ready = {
            let mut pollfds = self.pollfds.borrow_mut();
            // SAFETY: a live, correctly sized array of pollfd structures; zero timeout.
            unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, 0) }
        };
        self.dispatch(ready < 0 && !interrupted_by_signal());
    }

    /// The idle task's preparation: copies slirp's descriptors into its poll set, notes the
    /// generation they belong to, and returns the timeout. `None` if they do not fit (then the
    /// idle task sleeps until the next signal, and the starvation watchdog serves slirp).
    fn prepare_idle_wait(&self, set: &mut PollSet<'_>) -> Option<i32> {
        self.forward_device_frames();
        let mut timeout_ms = self.fill_pollfds();
        if self.from_device.borrow().ready() {
            timeout_ms = 0;
        }
        for pollfd in self.pollfds.borrow().iter() {
            set.push(pollfd.fd, pollfd.events).ok()?;
        }
        self.idle_generation
            .set(self.generation.load(Ordering::SeqCst));
        let now = self.now_ms();
        let planned = now.saturating_add(i64::from(timeout_ms));
        let due = self
            .idle_due_ms
            .get()
            .map_or(planned, |due| due.min(planned));
        self.idle_due_ms.set(Some(due));
        Some(i32::try_from(due.saturating_sub(now).max(0)).unwrap_or(i32::MAX))
    }

    /// The idle task's return from `poll`: lets slirp act, unless another task entered slirp
    /// meanwhile (then the results may not match slirp's descriptors any more, and the idle
    /// task polls again).
    fn finish_idle_wait(&self, results: &PollResults<'_>, ready: Result<usize, i32>) {
        if self.generation.load(Ordering::SeqCst) != self.idle_generation.get() {
            return;
        }
        if ready == Err(libc::EINTR)
            && self
                .idle_due_ms
                .get()
                .is_some_and(|due| self.now_ms() < due)
        {
            // A signal (the tick, most often) ended the sleep before slirp's timers were due:
            // nothing for slirp to do yet.
            return;
        }
        {
            let mut pollfds = self.pollfds.borrow_mut();
            for (pollfd, polled) in pollfds.iter_mut().zip(results.entries()) {
                pollfd.revents = if ready.is_ok() { polled.revents } else { 0 };
            }
        }
        self.dispatch(ready.is_err());
    }
}

fn interrupted_by_signal() -> bool {
    std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
}

fn slirp_config() -> sys::SlirpConfig {
    let address = |ip: Ipv4Addr| sys::in_addr::from(ip);
    sys::SlirpConfig {
        // Version 3: the callback table of libslirp-sys has the v3 layout.
        version: 3,
        restricted: 0,
        in_enabled: true,
        vnetwork: address(NETWORK.0),
        vnetmask: address(Ipv4Addr::new(255, 255, 255, 0)),
        vhost: address(HOST_ADDRESS),
        in6_enabled: false,
        vprefix_addr6: sys::in6_addr { s6_addr: [0; 16] },
        vprefix_len: 0,
        vhost6: sys::in6_addr { s6_addr: [0; 16] },
        vhostname: ptr::null(),
        tftp_server_name: ptr::null(),
        tftp_path: ptr::null(),
        bootfile: ptr::null(),
        vdhcp_start: address(DHCP_FIRST_ADDRESS),
        vnameserver: address(DNS_ADDRESS),
        vnameserver6: sys::in6_addr { s6_addr: [0; 16] },
        vdnssearch: ptr::null_mut(),
        vdomainname: ptr::null(),
        if_mtu: 1500,
        if_mru: 1500,
        disable_host_loopback: false,
        enable_emu: false,
        outbound_addr: ptr::null(),
        outbound_addr6: ptr::null(),
        disable_dns: false,
        disable_dhcp: false,
    }
}

const CALLBACKS: sys::SlirpCb = sys::SlirpCb {
    send_packet: Some(on_send_packet),
    guest_error: Some(on_guest_error),
    clock_get_ns: Some(on_clock_get_ns),
    timer_new: Some(on_timer_new),
    timer_free: Some(on_timer_free),
    timer_mod: Some(on_timer_mod),
    register_poll_fd: Some(on_register_poll_fd),
    unregister_poll_fd: Some(on_register_poll_fd),
    notify: Some(on_notify),
};

/// The card behind slirp's `opaque` pointer.
///
/// # Safety
/// `opaque` must be the pointer `start` gave to `slirp_new`; slirp only calls back from
/// inside a call made under `with_card` (or from `start`), while the card is alive.
unsafe fn card_of<'a>(opaque: *mut c_void) -> &'a SlirpCard {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { &*opaque.cast::<SlirpCard>() }
}

unsafe extern "C" fn on_send_packet(buf: *const c_void, len: usize, opaque: *mut c_void) -> isize {
    // SAFETY: slirp passes its opaque and a buffer of `len` bytes valid for the call.
    let (state, bytes) = unsafe {
        (
            card_of(opaque),
            core::slice::from_raw_parts(buf.cast::<u8>(), len),
        )
    };
    let delivered = Frame::from_slice(bytes)
        .ok()
        .is_some_and(|frame| state.to_device.borrow_mut().enqueue(frame).is_ok());
    if delivered {
        STATS.rx_frames.fetch_add(1, Ordering::Relaxed);
        state.delivered.set(true);
    } else {
        // A full ring or an oversized frame: dropped, as a card would. TCP retransmits.
        STATS.rx_dropped.fetch_add(1, Ordering::Relaxed);
    }
    len as isize
}

unsafe extern "C" fn on_guest_error(message: *const c_char, _opaque: *mut c_void) {
    // SAFETY: slirp passes a NUL-terminated message valid for the call.
    let text = unsafe { core::ffi::CStr::from_ptr(message) };
    log::warn!(
        "slirp: the device sent something invalid: {}",
        text.to_string_lossy()
    );
}

unsafe extern "C" fn on_clock_get_ns(opaque: *mut c_void) -> i64 {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { card_of(opaque) };
    i64::try_from(state.clock_start.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

unsafe extern "C" fn on_timer_new(
    callback: sys::SlirpTimerCb,
    callback_opaque: *mut c_void,
    opaque: *mut c_void,
) -> *mut c_void {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { card_of(opaque) };
    let timer = Box::into_raw(Box::new(SlirpTimer {
        callback,
        callback_opaque,
        expires_ms: Cell::new(None),
    }));
    state.timers.borrow_mut().push(timer);
    timer.cast()
}

unsafe extern "C" fn on_timer_free(timer: *mut c_void, opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { card_of(opaque) };
    let timer = timer.cast::<SlirpTimer>();
    let mut timers = state.timers.borrow_mut();
    if let Some(index) = timers.iter().position(|&known| known == timer) {
        timers.swap_remove(index);
        // SAFETY: made by `on_timer_new` with Box::into_raw and now unlisted: freed once.
        drop(unsafe { Box::from_raw(timer) });
    }
}

unsafe extern "C" fn on_timer_mod(timer: *mut c_void, expire_time_ms: i64, opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque and a timer it got from `on_timer_new`.
    let state = unsafe { card_of(opaque) };
    let timer = timer.cast::<SlirpTimer>();
    if state.timers.borrow().contains(&timer) {
        // SAFETY: listed, so alive.
        unsafe { (*timer).expires_ms.set(Some(expire_time_ms)) };
    }
}

unsafe extern "C" fn on_register_poll_fd(_fd: c_int, _opaque: *mut c_void) {
    // Descriptors are collected afresh every round by `slirp_pollfds_fill`.
}

unsafe extern "C" fn on_notify(opaque: *mut c_void) {
    // SAFETY: slirp passes our opaque.
    // slirp wants its descriptors collected again; every wait is planned afresh after any
    // entry into slirp, so marking the plan stale is enough.
    unsafe { card_of(opaque) }.entered();
}

unsafe extern "C" fn on_add_poll(fd: c_int, events: c_int, opaque: *mut c_void) -> c_int {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { card_of(opaque) };
    let mut wanted: libc::c_short = 0;
    for (slirp_flag, poll_flag) in POLL_FLAGS {
        if events & slirp_flag != 0 {
            wanted |= poll_flag;
        }
    }
    let mut pollfds = state.pollfds.borrow_mut();
    pollfds.push(libc::pollfd {
        fd,
        events: wanted,
        revents: 0,
    });
    (pollfds.len() - 1) as c_int
}

unsafe extern "C" fn on_get_revents(index: c_int, opaque: *mut c_void) -> c_int {
    // SAFETY: slirp passes our opaque.
    let state = unsafe { card_of(opaque) };
    let pollfds = state.pollfds.borrow();
    let Some(pollfd) = usize::try_from(index)
        .ok()
        .and_then(|index| pollfds.get(index))
    else {
        return 0;
    };
    POLL_FLAGS
        .iter()
        .filter(|(_, poll_flag)| pollfd.revents & poll_flag != 0)
        .fold(0, |flags, (slirp_flag, _)| flags | slirp_flag)
}

/// slirp's poll flags and their poll(2) equivalents.
const POLL_FLAGS: [(c_int, libc::c_short); 5] = [
    (sys::SLIRP_POLL_IN, libc::POLLIN),
    (sys::SLIRP_POLL_OUT, libc::POLLOUT),
    (sys::SLIRP_POLL_PRI, libc::POLLPRI),
    (sys::SLIRP_POLL_ERR, libc::POLLERR),
    (sys::SLIRP_POLL_HUP, libc::POLLHUP),
];
