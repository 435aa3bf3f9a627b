/*
 * FreeRTOS+TCP configuration of this application (cargo feature `freertos-plus-tcp`).
 *
 * Sized for what the demo does: one mutual-TLS connection at a time, to one server, plus
 * DHCP and DNS. Every value not set here takes the stack's default
 * (FreeRTOSIPConfigDefaults.h).
 *
 * Sizing, for one TLS connection on a 1500-byte MTU (MSS 1460):
 * - Socket buffers: 8 KiB receive and 8 KiB send, as the smoltcp backend's defaults
 *   (net::NetConfig; the Rust layer sets each socket's from there). The server's TLS flight
 *   (certificate chain, up to ~5 KiB) fits the receive buffer whole, and the device's own
 *   chain (~2 KiB) plus its handshake records fit the send buffer.
 * - Windows: as many full segments as the buffer holds (5 for 8 KiB), at most 8 each way (the
 *   Rust layer sets them with FREERTOS_SO_WIN_PROPERTIES; upstream's default is half the
 *   buffer: 2 segments here).
 * - Network buffer descriptors: 16. At most one receive window of segments (5) is in flight
 *   towards the device, a send window (5) may wait in the driver, and DHCP, DNS and ARP need
 *   one each at a time; the rest is headroom for a closing socket's last segments. With
 *   BufferAllocation_2 a descriptor is ~60 bytes: the frames themselves are allocated from the
 *   FreeRTOS heap only while in use, each the size of its frame.
 * - Sliding-window segment descriptors: 16, shared by every TCP socket (a socket needs one
 *   per segment of each of its windows: 5 + 5), so a second, closing socket still has some.
 *   Allocated once, at start (c_shim/plus_tcp/plus_tcp_shim.c).
 * - IP task event queue: the descriptors plus 5, so that every buffer can be announced to the
 *   IP task at once and the queue is never what drops a frame.
 * - ARP cache: 4 entries (the gateway, the DNS server, a host on the link).
 */

#ifndef FREERTOS_IP_CONFIG_H
#define FREERTOS_IP_CONFIG_H

#define ipconfigBYTE_ORDER                         pdFREERTOS_LITTLE_ENDIAN

#define ipconfigUSE_IPv4                           1
#define ipconfigUSE_IPv6                           0
#define ipconfigUSE_TCP                            1
#define ipconfigUSE_TCP_WIN                        1
#define ipconfigUSE_DHCP                           1
#define ipconfigUSE_DNS                            1
#define ipconfigDNS_USE_CALLBACKS                  0
/* The DNS cache is on: besides sparing lookups (answers are kept for their TTL), it is what
 * makes FreeRTOS_getaddrinfo return its results in V4.4.1 (without the cache, callbacks,
 * LLMNR or mDNS, the answer parser builds no address list, and getaddrinfo reports ENOMEM
 * for a name that was found). Two names of up to 253 characters, statically allocated. */
#define ipconfigUSE_DNS_CACHE                      1
#define ipconfigDNS_CACHE_ENTRIES                  2
#define ipconfigDNS_CACHE_ADDRESSES_PER_ENTRY      1
#define ipconfigUSE_LLMNR                          0
#define ipconfigUSE_NBNS                           0
#define ipconfigUSE_MDNS                           0
#define ipconfigUSE_RA                             0
#define ipconfigSUPPORT_OUTGOING_PINGS             0
#define ipconfigREPLY_TO_INCOMING_PINGS            1
#define ipconfigSUPPORT_SELECT_FUNCTION            0
#define ipconfigUSE_NETWORK_EVENT_HOOK             1
#define ipconfigUSE_DHCP_HOOK                      0
#define ipconfigDHCP_REGISTER_HOSTNAME             0
#define ipconfigCOMPATIBLE_WITH_SINGLE             0
/* DHCP starts this long after the interface is up, and its state machine re-checks its
 * timeouts this often while it waits (replies themselves are handled when they arrive, so
 * this only costs a few wake-ups while DHCP runs). The default, 250 ms, was the larger part
 * of the demo's start-up. */
#define dhcpINITIAL_TIMER_PERIOD                   ( pdMS_TO_TICKS( 1U ) )
#define ipconfigIPv4_BACKWARD_COMPATIBLE           0

/* The IP task: above the tasks that use sockets (the application runs at 2..5). Its stack:
 * - on the simulators task code runs on a host thread's own stack, so this only sizes the
 *   block taken from the FreeRTOS heap for it, which holds the port's thread record: the
 *   kernel's minimum (64 8-byte words, see FreeRTOSConfig.h), as for every task there;
 * - on a Cortex-M board it is the real stack: the IP task calls the interface's output, which
 *   builds a 1.5 KB frame and hands it to the card (frames move by value), so 1.5 KiB (384
 *   words) overflowed on mps2-an386 at the first DHCP frame. With 8 KiB its high-water mark
 *   was 2,100 B for a demo run (the board's stack report, `IP-task`); 4 KiB (1024 4-byte
 *   words) leaves ~2 KB over that. board::port::PLUS_TCP_IP_TASK_STACK_BYTES mirrors it. */
#define ipconfigIP_TASK_PRIORITY                   ( 6 )
#if defined( __arm__ )
    #define ipconfigIP_TASK_STACK_SIZE_WORDS       ( 1024 )
#else
    #define ipconfigIP_TASK_STACK_SIZE_WORDS       ( configMINIMAL_STACK_SIZE )
#endif
/* The IP task re-checks its timers at least this often; every other wake-up is an event. */
#define ipconfigMAX_IP_TASK_SLEEP_TIME             ( pdMS_TO_TICKS( 1000 ) )

#define ipconfigNETWORK_MTU                        1500
#define ipconfigTCP_MSS                            1460
#define ipconfigTCP_RX_BUFFER_LENGTH               ( 8 * 1024 )
#define ipconfigTCP_TX_BUFFER_LENGTH               ( 8 * 1024 )
#define ipconfigTCP_WIN_SEG_COUNT                  16
#define ipconfigNUM_NETWORK_BUFFER_DESCRIPTORS     16
#define ipconfigEVENT_QUEUE_LENGTH                 ( ipconfigNUM_NETWORK_BUFFER_DESCRIPTORS + 5 )
#define ipconfigUDP_MAX_RX_PACKETS                 4
#define ipconfigARP_CACHE_ENTRIES                  4
#define ipconfigMAX_ARP_RETRANSMISSIONS            5
#define ipconfigMAX_ARP_AGE                        150

/* A peer that stops answering a closing socket cannot hold it for ever. */
#define ipconfigTCP_HANG_PROTECTION                1
#define ipconfigTCP_HANG_PROTECTION_TIME           5
#define ipconfigTCP_KEEP_ALIVE                     0

/* The defaults of the sockets' timeouts; the Rust layer sets both on every socket. */
#define ipconfigSOCK_DEFAULT_RECEIVE_BLOCK_TIME    ( pdMS_TO_TICKS( 10000 ) )
#define ipconfigSOCK_DEFAULT_SEND_BLOCK_TIME       ( pdMS_TO_TICKS( 10000 ) )
#define ipconfigDNS_RECEIVE_BLOCK_TIME_TICKS       ( pdMS_TO_TICKS( 1000 ) )
#define ipconfigDNS_SEND_BLOCK_TIME_TICKS          ( pdMS_TO_TICKS( 500 ) )
#define ipconfigDNS_REQUEST_ATTEMPTS               3

/* The network interface (src/net/freertos_plus_tcp/interface.rs) copies every frame and
 * leaves filtering and checksums to the stack. */
#define ipconfigZERO_COPY_RX_DRIVER                0
#define ipconfigZERO_COPY_TX_DRIVER                0
#define ipconfigETHERNET_DRIVER_FILTERS_FRAME_TYPES 0
#define ipconfigETHERNET_DRIVER_FILTERS_PACKETS    0
#define ipconfigDRIVER_INCLUDED_RX_IP_CHECKSUM     0
#define ipconfigDRIVER_INCLUDED_TX_IP_CHECKSUM     0
#define ipconfigUSE_LINKED_RX_MESSAGES             0

#define ipconfigHAS_DEBUG_PRINTF                   0
#define ipconfigHAS_PRINTF                         0

#endif /* FREERTOS_IP_CONFIG_H */
