/*
 * What the Rust backend (src/net/freertos_plus_tcp/) sees of FreeRTOS+TCP: bindgen reads this
 * header. The sockets and IP APIs, the network-interface and buffer APIs a driver uses, and
 * the few helpers of plus_tcp_shim.c.
 */

#ifndef PLUS_TCP_SHIM_H
#define PLUS_TCP_SHIM_H

#include "FreeRTOS.h"
#include "task.h"
#include "FreeRTOS_IP.h"
#include "FreeRTOS_Sockets.h"
#include "FreeRTOS_IP_Private.h"
#include "FreeRTOS_ARP.h"
#include "FreeRTOS_Routing.h"
#include "NetworkBufferManagement.h"
#include "NetworkInterface.h"
#include "FreeRTOS_TCP_WIN.h"

/* Whether the peer of a TCP socket has sent its FIN (an orderly end of its stream, as opposed
 * to a reset). The flag lives in the socket's private structure. */
BaseType_t xShimPlusTcpPeerSentFin( Socket_t xSocket );

/* The TCP state of a socket (eIPTCPState_t), or -1 for an invalid socket. */
BaseType_t xShimPlusTcpState( Socket_t xSocket );

/* Allocates FreeRTOS+TCP's pool of TCP segment descriptors now (it is otherwise allocated by
 * the first connection and kept for good). Call once, before FreeRTOS_IPInit_Multi. pdPASS,
 * or pdFAIL if the heap had no room. */
BaseType_t xShimPlusTcpReserveSegments( void );

#endif /* PLUS_TCP_SHIM_H */
