//! The network interface FreeRTOS+TCP drives: a V4 `NetworkInterface_t` over any
//! [`LinkCard`], written here (no upstream driver).
//!
//! * **Send** (`pfOutput`, on the IP task): the frame is copied into a [`Frame`] and given to
//!   the card, under the card's lock. A card with no room drops it, as a wire would; TCP sends
//!   it again.
//! * **Receive**: frames reach the IP task as `eNetworkRxEvent`s, each in a network buffer
//!   sized to the frame (BufferAllocation_2). Two ways, both on tasks, none through a
//!   `...FromISR` API:
//!   - the card's receive handler ([`LinkCard::set_receive_handler`]): a card that receives
//!     on a task which must not block (the simulator's idle task, with the scheduler
//!     suspended) hands the frames over right there, taking a buffer and queueing the event
//!     without waiting. The IP task, woken by the queue, runs as soon as the scheduler
//!     resumes: no detour through another task.
//!   - the receive task (`EMAC`, above the IP task, as upstream's drivers have it): attached
//!     to the card's interrupt line, which the card raises when frames arrived and the handler
//!     could not take them (no free buffer, the card busy) or when it receives in interrupt
//!     context. It may wait for buffers and for room in the IP task's queue, never holding the
//!     card's lock while it waits.
//! * **Link status** (`pfGetPhyLinkStatus`): always up; a card has no link state to report.
//!
//! Frames that change what a waiting task waits for wake it ([`Interest`]): an ARP frame
//! wakes a task in [`super::Stack::resolve_next_hop`] (so a first connection does not sit out
//! FreeRTOS+TCP's 500 ms resolution retry), and a TCP segment with SYN or RST wakes a task
//! waiting for its connection to be accepted or refused (FreeRTOS+TCP sets no socket event
//! when a reset refuses a connection, so `FreeRTOS_connect` alone would wait out its timeout).
//! The IP task runs above every socket user, so by the time a woken task runs, the IP task has
//! processed the frame that woke it.

use core::cell::{RefCell, UnsafeCell};
use core::ffi::c_char;
use core::mem::MaybeUninit;
use core::net::Ipv4Addr;
use core::ptr;

use alloc::boxed::Box;

use super::{ffi, from_plus, to_plus};
use crate::link::{Frame, LinkCard, LinkCounters, MAX_FRAME};
use crate::net::{Ipv4Setup, NetConfig, StartError};
use crate::rtos::interrupt::{InterruptLine, InterruptRaiser};
use crate::rtos::sync::Mutex;
use crate::rtos::task::{self, NotifySlot, Priority, TaskHandle};
use crate::rtos::time::Ticks;

/// Longest the receive task waits for a network buffer or for room in the IP task's queue
/// before it drops a frame.
const RECEIVE_WAIT_MS: u64 = 200;
/// EtherType of ARP.
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
/// EtherType of IPv4.
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
/// Most tasks waiting for frames at once.
const MAX_WAITERS: usize = 8;

/// What a task waits for (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interest {
    /// Any ARP frame.
    Arp,
    /// A TCP segment with SYN or RST.
    TcpControl,
}

impl Interest {
    /// The interest `frame` satisfies, if any.
    fn of(frame: &[u8]) -> Option<Interest> {
        let ethertype = frame.get(12..14)?;
        if ethertype == ETHERTYPE_ARP {
            return Some(Interest::Arp);
        }
        if ethertype != ETHERTYPE_IPV4 || *frame.get(23)? != 6 {
            return None;
        }
        let header_len = usize::from(frame.get(14)? & 0x0f) * 4;
        let flags = *frame.get(14 + header_len + 13)?;
        // SYN 0x02, RST 0x04.
        (flags & 0x06 != 0).then_some(Interest::TcpControl)
    }
}

/// The card and a frame taken from it that is not yet with the IP task.
struct Link {
    card: Box<dyn LinkCard>,
    /// A frame the receive handler could not hand over; the receive task delivers it first.
    pending: Option<Frame>,
    /// Frames dropped by the interface (no buffer in time, no room in the card).
    dropped: u64,
}

/// The interface's state; one per program (FreeRTOS+TCP keeps pointers to it).
pub(super) struct Interface {
    link: Mutex<Link>,
    /// FreeRTOS+TCP's descriptor of the interface, and the end-point on it. Written here
    /// before `FreeRTOS_IPInit_Multi`, then owned by FreeRTOS+TCP.
    descriptor: UnsafeCell<ffi::NetworkInterface_t>,
    end_point: UnsafeCell<ffi::NetworkEndPoint_t>,
    /// Tasks waiting for a kind of frame (see [`Interest`]).
    waiters: critical_section::Mutex<RefCell<heapless::Vec<(TaskHandle, Interest), MAX_WAITERS>>>,
    /// The receive task, told when the card holds frames for later (see
    /// [`LinkCard::wake_within`]).
    receive_task: once_cell::race::OnceBox<TaskHandle>,
}

// SAFETY: `link` is behind a kernel mutex and `waiters` behind a critical section.
// `descriptor` and `end_point` are written only in `launch`, before FreeRTOS+TCP knows them,
// and afterwards only FreeRTOS+TCP (its IP task, under its own rules) reads and writes them;
// this module only passes their addresses.
unsafe impl Sync for Interface {}
// SAFETY: as above; nothing in it is tied to the thread that created it.
unsafe impl Send for Interface {}

/// The interface of the program, once started.
static INTERFACE: once_cell::race::OnceBox<&'static Interface> = once_cell::race::OnceBox::new();

fn interface() -> Option<&'static Interface> {
    INTERFACE.get().copied()
}

impl Interface {
    /// Takes the card, starts the receive task on its interrupt line, and installs the
    /// receive handler. FreeRTOS+TCP is not started yet (see [`Interface::launch`]).
    pub(super) fn start(
        card: Box<dyn LinkCard>,
        _config: &NetConfig,
    ) -> Result<&'static Interface, StartError> {
        let interrupt_line = card.interrupt_line();
        InterruptRaiser::new(interrupt_line).map_err(StartError::InterruptLine)?;
        let link = Mutex::new(Link {
            card,
            pending: None,
            dropped: 0,
        })
        .map_err(StartError::Kernel)?;
        let interface: &'static Interface = Box::leak(Box::new(Interface {
            link,
            // SAFETY: both are C structs of integers, pointers, optional function pointers
            // and bit-fields, for which all-zero is the valid "empty" value FreeRTOS+TCP
            // expects before they are filled.
            descriptor: UnsafeCell::new(unsafe { MaybeUninit::zeroed().assume_init() }),
            // SAFETY: as above.
            end_point: UnsafeCell::new(unsafe { MaybeUninit::zeroed().assume_init() }),
            waiters: critical_section::Mutex::new(RefCell::new(heapless::Vec::new())),
            receive_task: once_cell::race::OnceBox::new(),
        }));
        if INTERFACE.set(Box::new(interface)).is_err() {
            return Err(StartError::AlreadyStarted);
        }
        let priority = Priority::new(super::IP_TASK_PRIORITY.saturating_add(1))
            .map_err(StartError::Priority)?;
        let receive_task = task::TaskBuilder::new("EMAC")
            .priority(priority)
            .stack_bytes(crate::board::port::RECEIVE_TASK_STACK_BYTES)
            .spawn(move || run_receive_task(interface, interrupt_line))
            .map_err(StartError::IpTask)?;
        let _ = interface.receive_task.set(Box::new(receive_task));
        let handler: &'static (dyn Fn() -> bool + Sync) =
            Box::leak(Box::new(move || interface.receive_without_waiting()));
        interface.link.lock().card.set_receive_handler(handler);
        Ok(interface)
    }

    /// Describes the interface and its end-point to FreeRTOS+TCP and starts it (its IP task).
    pub(super) fn launch(&'static self, config: &NetConfig) -> Result<(), StartError> {
        let descriptor = self.descriptor.get();
        let end_point = self.end_point.get();
        // SAFETY: FreeRTOS+TCP does not know the two structs yet (this is the only place that
        // registers them, once), so nothing else accesses them while they are filled. They
        // live for the rest of the program (leaked in `start`), as FreeRTOS+TCP requires.
        unsafe {
            (*descriptor).pcName = c"link".as_ptr().cast::<c_char>();
            (*descriptor).pvArgument = ptr::null_mut();
            (*descriptor).pfInitialise = Some(initialise);
            (*descriptor).pfOutput = Some(output);
            (*descriptor).pfGetPhyLinkStatus = Some(link_status);
            ffi::FreeRTOS_AddNetworkInterface(descriptor);
            let zero = [0u8; 4];
            let (address, netmask, gateway, dns) = match config.ipv4 {
                Ipv4Setup::Dhcp => (zero, zero, zero, zero),
                Ipv4Setup::Static(settings) => {
                    let mask = u32::MAX
                        .checked_shl(32 - u32::from(settings.prefix_len.min(32)))
                        .unwrap_or(0);
                    (
                        settings.address.octets(),
                        mask.to_be_bytes(),
                        settings.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED).octets(),
                        settings.dns.unwrap_or(Ipv4Addr::UNSPECIFIED).octets(),
                    )
                }
            };
            ffi::FreeRTOS_FillEndPoint(
                descriptor,
                end_point,
                address.as_ptr(),
                netmask.as_ptr(),
                gateway.as_ptr(),
                dns.as_ptr(),
                config.mac.as_ptr(),
            );
            if matches!(config.ipv4, Ipv4Setup::Dhcp) {
                (*end_point).bits.set_bWantDHCP(1);
            }
            // The segment pool every TCP connection shares, allocated now rather than by the
            // first connection, so the heap a connection takes is given back when it closes.
            if ffi::xShimPlusTcpReserveSegments() == 0 {
                return Err(StartError::Kernel(
                    crate::rtos::sync::CreateError::OutOfMemory,
                ));
            }
            if ffi::FreeRTOS_IPInit_Multi() == 0 {
                return Err(StartError::IpTask(task::SpawnError::OutOfMemory));
            }
        }
        Ok(())
    }

    /// The card's counters, with the frames this interface dropped added.
    pub(super) fn counters(&self) -> LinkCounters {
        let link = self.link.lock();
        let mut counters = link.card.counters();
        counters.dropped += link.dropped;
        counters
    }

    /// Registers the calling task to be woken (on [`NotifySlot::Network`]) by the next frame
    /// of `interest`. `false` if too many tasks wait already (the caller then waits for its
    /// timeout only).
    pub(super) fn expect(&self, interest: Interest) -> bool {
        let Some(me) = TaskHandle::current() else {
            return false;
        };
        critical_section::with(|cs| {
            let mut waiters = self.waiters.borrow_ref_mut(cs);
            if waiters.iter().any(|(task, _)| *task == me) {
                return true;
            }
            waiters.push((me, interest)).is_ok()
        })
    }

    /// Takes the calling task off the list (its wait is over).
    pub(super) fn forget(&self) {
        let Some(me) = TaskHandle::current() else {
            return;
        };
        let removed = critical_section::with(|cs| {
            let mut waiters = self.waiters.borrow_ref_mut(cs);
            let index = waiters.iter().position(|(task, _)| *task == me)?;
            Some(waiters.swap_remove(index))
        });
        // Dropped out of the critical section.
        drop(removed);
    }

    /// Called for every frame that reached the IP task: wakes the tasks waiting for its kind.
    fn frame_delivered(&self, frame: &[u8]) {
        let Some(interest) = Interest::of(frame) else {
            return;
        };
        let mut woken: heapless::Vec<TaskHandle, MAX_WAITERS> = heapless::Vec::new();
        critical_section::with(|cs| {
            let mut waiters = self.waiters.borrow_ref_mut(cs);
            let mut index = 0;
            while index < waiters.len() {
                if waiters[index].1 == interest {
                    let (task, _) = waiters.swap_remove(index);
                    let _ = woken.push(task);
                } else {
                    index += 1;
                }
            }
        });
        for task in woken {
            task.notify_slot(NotifySlot::Network);
        }
    }

    /// The receive handler: hands the card's frames to the IP task now, without waiting for
    /// anything; `false` if one could not be (the receive task then gets the interrupt).
    fn receive_without_waiting(&self) -> bool {
        let Some(mut link) = self.link.lock_timeout(Ticks::ZERO) else {
            return false;
        };
        if link.pending.is_some() {
            return false; // the receive task is behind; keep the order
        }
        while let Some(frame) = take_frame(&mut link.card) {
            if !deliver(self, &frame, Ticks::ZERO) {
                link.pending = Some(frame);
                return false;
            }
        }
        // Frames the card holds for later: the receive task (woken by the card's line) plans
        // its next round for them.
        link.card.wake_within().is_none()
    }

    /// Wakes the receive task if the card holds frames for later, so that it plans for them.
    fn plan_for_held_frames(&self, link: &Link) {
        if link.card.wake_within().is_some() {
            if let Some(receive_task) = self.receive_task.get() {
                receive_task.notify();
            }
        }
    }

    /// The receive task's round: the card's deferred work, then every frame to the IP task,
    /// waiting for buffers if need be (with the card's lock released).
    fn receive_waiting(&self) {
        self.link.lock().card.service();
        let wait = Ticks::from_duration(core::time::Duration::from_millis(RECEIVE_WAIT_MS));
        loop {
            let frame = {
                let mut link = self.link.lock();
                match link.pending.take() {
                    Some(frame) => Some(frame),
                    None => take_frame(&mut link.card),
                }
            };
            let Some(frame) = frame else { return };
            if !deliver(self, &frame, wait) {
                self.link.lock().dropped += 1;
            }
        }
    }
}

fn run_receive_task(interface: &'static Interface, interrupt_line: u8) {
    if let Err(error) = InterruptLine::attach_current(interrupt_line) {
        log::error!("FreeRTOS+TCP receive task: {error}; the network cannot receive");
        return;
    }
    loop {
        interface.receive_waiting();
        // A card that holds frames for later (a delaying wrapper) names when to come back.
        let wake = interface.link.lock().card.wake_within();
        task::wait_for_notification(wake.map_or(Ticks::FOREVER, Ticks::from_duration));
    }
}

/// The card's next received frame, if any.
fn take_frame(card: &mut Box<dyn LinkCard>) -> Option<Frame> {
    let mut frame = Frame::new();
    card.receive_into(&mut frame).then_some(frame)
}

/// Copies `frame` into a network buffer and queues it for the IP task, waiting up to `wait`
/// for each. `false` if either could not be had in time (nothing is then queued).
fn deliver(interface: &Interface, frame: &[u8], wait: Ticks) -> bool {
    let wait = ffi::TickType_t::try_from(wait.as_u64()).unwrap_or(ffi::TickType_t::MAX);
    // SAFETY: FreeRTOS+TCP's buffer API, callable from any task (with zero wait also with the
    // scheduler suspended, as the receive handler runs).
    let buffer = unsafe { ffi::pxGetNetworkBufferWithDescriptor(frame.len(), wait) };
    if buffer.is_null() {
        return false;
    }
    let descriptor = interface.descriptor.get();
    // SAFETY: `buffer` is a fresh descriptor whose buffer holds at least `frame.len()` bytes;
    // nothing else has it until it is queued below (or released).
    unsafe {
        ptr::copy_nonoverlapping(frame.as_ptr(), (*buffer).pucEthernetBuffer, frame.len());
        (*buffer).xDataLength = frame.len();
        (*buffer).pxInterface = descriptor;
        (*buffer).pxEndPoint =
            ffi::FreeRTOS_MatchingEndpoint(descriptor, (*buffer).pucEthernetBuffer);
        if (*buffer).pxEndPoint.is_null() {
            // Not for this device: dropped, as a card's address filter would.
            ffi::vReleaseNetworkBufferAndDescriptor(buffer);
            return true;
        }
        let event = ffi::IPStackEvent_t {
            eEventType: ffi::eNetworkRxEvent,
            pvData: buffer.cast(),
        };
        if ffi::xSendEventStructToIPTask(&event, wait) == 0 {
            ffi::vReleaseNetworkBufferAndDescriptor(buffer);
            return false;
        }
    }
    interface.frame_delivered(frame);
    true
}

/// `pfInitialise`: the card is running already (its board started it). Called by the IP task.
unsafe extern "C" fn initialise(_descriptor: *mut ffi::NetworkInterface_t) -> ffi::BaseType_t {
    super::entered_from_c();
    1
}

/// `pfGetPhyLinkStatus`: a card reports no link state, so the link is up.
unsafe extern "C" fn link_status(_descriptor: *mut ffi::NetworkInterface_t) -> ffi::BaseType_t {
    1
}

/// `pfOutput`: sends one frame. Called by the IP task.
unsafe extern "C" fn output(
    _descriptor: *mut ffi::NetworkInterface_t,
    buffer: *mut ffi::NetworkBufferDescriptor_t,
    release_after_send: ffi::BaseType_t,
) -> ffi::BaseType_t {
    super::entered_from_c();
    if buffer.is_null() {
        return 0;
    }
    let mut sent = false;
    if let Some(interface) = interface() {
        // SAFETY: FreeRTOS+TCP hands over a valid descriptor whose buffer holds
        // `xDataLength` bytes, for the duration of this call.
        let data = unsafe {
            core::slice::from_raw_parts((*buffer).pucEthernetBuffer, (*buffer).xDataLength)
        };
        let mut frame = Frame::new();
        if data.len() <= MAX_FRAME && frame.extend_from_slice(data).is_ok() {
            let mut link = interface.link.lock();
            if link.card.can_send() && link.card.send(&frame).is_ok() {
                sent = true;
            } else {
                link.dropped += 1;
            }
            interface.plan_for_held_frames(&link);
        }
    }
    if release_after_send != 0 {
        // SAFETY: FreeRTOS+TCP asked the driver to release the descriptor once sent; it is
        // not used after this.
        unsafe { ffi::vReleaseNetworkBufferAndDescriptor(buffer) };
    }
    if sent { 1 } else { 0 }
}

/// The next hop towards `address` (itself on the link, else the gateway) if it is not in the
/// ARP cache yet; `None` if it is, or if ARP cannot help (no route).
pub(super) fn arp_lookup(address: Ipv4Addr) -> Option<Ipv4Addr> {
    let settings = super::STACK.get()?.ipv4()?;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(settings.prefix_len.min(32)))
        .unwrap_or(0);
    let on_link = u32::from(address) & mask == u32::from(settings.address) & mask;
    let next_hop = if on_link { address } else { settings.gateway? };
    let mut lookup = to_plus(next_hop);
    let mut mac = ffi::MACAddress_t { ucBytes: [0; 6] };
    let mut end_point: *mut ffi::NetworkEndPoint_t = ptr::null_mut();
    // SAFETY: a read of FreeRTOS+TCP's ARP cache, which it allows from any task (its own
    // xARPWaitResolution does this); the three pointers are to locals.
    let result = unsafe { ffi::eARPGetCacheEntry(&mut lookup, &mut mac, &mut end_point) };
    (result == ffi::eResolutionCacheMiss).then(|| from_plus(to_plus(next_hop)))
}

/// Asks the link for `address`'s hardware address (an ARP request; the reply fills the
/// cache). From the IP task it is sent at once, from another task through the IP task.
pub(super) fn send_arp_request(address: Ipv4Addr) {
    // SAFETY: FreeRTOS+TCP's API, callable from any task once the IP task runs.
    unsafe { ffi::FreeRTOS_OutputARPRequest(to_plus(address)) };
}
