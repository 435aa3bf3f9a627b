/*
 * Console output and process exit for the POSIX simulator port. A board port provides the
 * same two functions over its UART or semihosting.
 */
#include "freertos_shim.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <unistd.h>

int iShimWriteAll( int iFd, const uint8_t * pcBuffer, size_t xLength )
{
    while( xLength > 0 )
    {
        ssize_t xWritten = write( iFd, pcBuffer, xLength );

        if( xWritten < 0 )
        {
            if( errno == EINTR )
            {
                continue;
            }

            return errno;
        }

        pcBuffer += xWritten;
        xLength -= ( size_t ) xWritten;
    }

    return 0;
}

void vShimFatalExit( const uint8_t * pcMessage, size_t xLength, int iStatus )
{
    ( void ) iShimWriteAll( STDERR_FILENO, pcMessage, xLength );
    _exit( iStatus );
}

void vShimBlockKernelSignals( void )
{
    sigset_t xKernelSignals;

    sigemptyset( &xKernelSignals );
    sigaddset( &xKernelSignals, SIGALRM ); /* the tick */
    sigaddset( &xKernelSignals, SIGUSR1 ); /* SIG_RESUME in port.c */
    sigaddset( &xKernelSignals, SIGUSR2 ); /* simulated interrupts (posix_interrupt.c) */
    ( void ) pthread_sigmask( SIG_BLOCK, &xKernelSignals, NULL );
}
