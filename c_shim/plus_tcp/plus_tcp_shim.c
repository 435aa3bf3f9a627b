/*
 * Helpers for the FreeRTOS+TCP backend that read a socket's private structure (see
 * plus_tcp_shim.h). Everything else of the backend, the network interface included, is Rust.
 */

#include "plus_tcp_shim.h"

BaseType_t xShimPlusTcpPeerSentFin( Socket_t xSocket )
{
    const FreeRTOS_Socket_t * pxSocket = ( const FreeRTOS_Socket_t * ) xSocket;

    if( ( pxSocket == NULL ) || ( pxSocket == FREERTOS_INVALID_SOCKET ) ||
        ( pxSocket->ucProtocol != ( uint8_t ) FREERTOS_IPPROTO_TCP ) )
    {
        return pdFALSE;
    }

    return ( pxSocket->u.xTCP.bits.bFinRecv != 0U ) ? pdTRUE : pdFALSE;
}

BaseType_t xShimPlusTcpState( Socket_t xSocket )
{
    const FreeRTOS_Socket_t * pxSocket = ( const FreeRTOS_Socket_t * ) xSocket;

    if( ( pxSocket == NULL ) || ( pxSocket == FREERTOS_INVALID_SOCKET ) ||
        ( pxSocket->ucProtocol != ( uint8_t ) FREERTOS_IPPROTO_TCP ) )
    {
        return -1;
    }

    return ( BaseType_t ) pxSocket->u.xTCP.eTCPState;
}

BaseType_t xShimPlusTcpReserveSegments( void )
{
    /* FreeRTOS+TCP allocates its pool of sliding-window segment descriptors
     * (ipconfigTCP_WIN_SEG_COUNT of them) the first time a TCP window is created, and keeps it
     * for good. Creating and destroying a window here makes that happen at start-up. */
    static TCPWindow_t xWindow;
    BaseType_t xResult = xTCPWindowCreate( &xWindow, ipconfigTCP_MSS, ipconfigTCP_MSS, 0U, 0U, ipconfigTCP_MSS );

    vTCPWindowDestroy( &xWindow );
    return xResult;
}
