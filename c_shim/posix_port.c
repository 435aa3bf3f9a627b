/*
 * The POSIX simulator's side of the shim: simulated interrupt lines, the idle hook that
 * sleeps on host descriptors, and the signal mask of host threads (see freertos_shim.h).
 *
 * Interrupt lines:
 *
 * The port runs its tick as a SIGALRM handler on the running task's thread, with every
 * signal masked; a critical section masks signals too. SIGUSR2 is used the same way here, so
 * the service routine below runs exactly where the tick would: never inside a critical
 * section, never nested in the tick, always on the thread of the task the kernel considers
 * running.
 */
#include "freertos_shim.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#define SHIM_INTERRUPT_SIGNAL    SIGUSR2

#if ( tskKERNEL_VERSION_MAJOR != 11 )
    #error "posix_port.c relies on the V11 POSIX port's per-task thread record; check it"
#endif

static _Atomic( TaskHandle_t ) xLineTargets[ SHIM_INTERRUPT_LINES ];
static atomic_int xLinePending[ SHIM_INTERRUPT_LINES ];
static pthread_once_t xHandlerInstalled = PTHREAD_ONCE_INIT;

/* Gives the notification of every task whose line is pending. Interrupt context only. */
static BaseType_t prvServicePendingLines( void )
{
    BaseType_t xHigherPriorityTaskWoken = pdFALSE;
    UBaseType_t uxLine;

    for( uxLine = 0; uxLine < SHIM_INTERRUPT_LINES; uxLine++ )
    {
        TaskHandle_t xTarget = atomic_load( &xLineTargets[ uxLine ] );

        /* A line raised before its task is attached stays pending until it is. */
        if( ( xTarget != NULL ) && ( atomic_exchange( &xLinePending[ uxLine ], 0 ) != 0 ) )
        {
            vTaskNotifyGiveIndexedFromISR( xTarget, 0, &xHigherPriorityTaskWoken );
        }
    }

    return xHigherPriorityTaskWoken;
}

static void prvInterruptSignalHandler( int iSignal )
{
    ( void ) iSignal;
    portYIELD_FROM_ISR( prvServicePendingLines() );
}

static void prvInstallHandler( void )
{
    struct sigaction xAction = { 0 };

    xAction.sa_handler = prvInterruptSignalHandler;
    sigfillset( &xAction.sa_mask ); /* like the tick: nothing nests inside the routine */
    xAction.sa_flags = 0;
    ( void ) sigaction( SHIM_INTERRUPT_SIGNAL, &xAction, NULL );
}

BaseType_t xShimInterruptAttach( UBaseType_t uxLine, TaskHandle_t xTask )
{
    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return pdFAIL;
    }

    ( void ) pthread_once( &xHandlerInstalled, prvInstallHandler );
    atomic_store( &xLineTargets[ uxLine ], xTask );
    return pdPASS;
}

void vShimInterruptDetachTask( TaskHandle_t xTask )
{
    UBaseType_t uxLine;

    for( uxLine = 0; uxLine < SHIM_INTERRUPT_LINES; uxLine++ )
    {
        TaskHandle_t xExpected = xTask;

        ( void ) atomic_compare_exchange_strong( &xLineTargets[ uxLine ], &xExpected, NULL );
    }
}

/* The pthread of a task. The V11 POSIX port keeps its per-task record (whose first member
 * is the pthread) just above the task's top of stack, and the TCB's first member is that
 * top of stack; port.c's own tick thread finds the running thread the same way. */
static pthread_t prvThreadOfTask( TaskHandle_t xTask )
{
    StackType_t * pxTopOfStack = *( StackType_t ** ) xTask;

    return *( pthread_t * ) ( pxTopOfStack + 1 );
}

void vShimInterruptRaise( UBaseType_t uxLine )
{
    TaskHandle_t xRunning;

    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return;
    }

    /* The handler must be in place before the first signal, even if no task is attached yet. */
    ( void ) pthread_once( &xHandlerInstalled, prvInstallHandler );
    atomic_store( &xLinePending[ uxLine ], 1 );

    if( xTaskGetSchedulerState() == taskSCHEDULER_NOT_STARTED )
    {
        return; /* serviced by the first tick after the scheduler starts */
    }

    /* A plain read of the running task, as the port's tick thread does. If that task is
     * switched out before the signal lands, the signal waits for its next turn and the tick
     * hook services the line within one tick. */
    xRunning = xTaskGetCurrentTaskHandle();

    if( xRunning != NULL )
    {
        ( void ) pthread_kill( prvThreadOfTask( xRunning ), SHIM_INTERRUPT_SIGNAL );
    }
}

static _Atomic( ShimIdlePrepare_t ) xIdlePrepare;
static _Atomic( ShimIdleFinish_t ) xIdleFinish;
static _Atomic( TickType_t ) xIdleLastRan;
static atomic_int xStarvedLine = -1;
static _Atomic( TickType_t ) xStarvedAfter;

void vShimSetIdlePoller( ShimIdlePrepare_t pxPrepare,
                         ShimIdleFinish_t pxFinish )
{
    atomic_store( &xIdleFinish, pxFinish );
    atomic_store( &xIdlePrepare, pxPrepare );
}

TickType_t xShimIdleLastRan( void )
{
    return atomic_load( &xIdleLastRan );
}

BaseType_t xShimRaiseWhenIdleStarved( UBaseType_t uxLine,
                                      TickType_t xTicks )
{
    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return pdFAIL;
    }

    ( void ) pthread_once( &xHandlerInstalled, prvInstallHandler );
    atomic_store( &xStarvedAfter, xTicks );
    atomic_store( &xStarvedLine, ( int ) uxLine );
    return pdPASS;
}

void vApplicationTickHook( void )
{
    int iStarvedLine = atomic_load( &xStarvedLine );

    if( ( iStarvedLine >= 0 ) &&
        ( ( xTaskGetTickCountFromISR() - atomic_load( &xIdleLastRan ) ) >= atomic_load( &xStarvedAfter ) ) )
    {
        atomic_store( &xLinePending[ iStarvedLine ], 1 );
    }

    /* A task woken here sets the kernel's yield-pending flag, so the tick switches to it. */
    ( void ) prvServicePendingLines();
}

/* One round of the idle poller (see freertos_shim.h). */
static void prvIdlePoll( ShimIdlePrepare_t pxPrepare,
                         ShimIdleFinish_t pxFinish )
{
    static ShimIdlePoll_t xPoll;            /* the idle task's alone */
    static struct pollfd xPollFds[ SHIM_IDLE_POLL_MAX ];
    BaseType_t xPlanned;
    size_t xIndex;
    int iReady;
    int iErrno;

    xPoll.xCount = 0;
    xPoll.iTimeoutMs = -1;
    vTaskSuspendAll();
    xPlanned = pxPrepare( &xPoll );

    if( xTaskResumeAll() != pdFALSE )
    {
        return; /* other tasks ran: plan again */
    }

    if( ( xPlanned == pdFALSE ) || ( xPoll.xCount > SHIM_IDLE_POLL_MAX ) )
    {
        ( void ) pause();
        return;
    }

    for( xIndex = 0; xIndex < xPoll.xCount; xIndex++ )
    {
        xPollFds[ xIndex ].fd = xPoll.axDescriptors[ xIndex ].iFd;
        xPollFds[ xIndex ].events = xPoll.axDescriptors[ xIndex ].sEvents;
        xPollFds[ xIndex ].revents = 0;
    }

    iReady = poll( xPollFds, ( nfds_t ) xPoll.xCount, xPoll.iTimeoutMs );
    iErrno = ( iReady < 0 ) ? errno : 0;

    for( xIndex = 0; xIndex < xPoll.xCount; xIndex++ )
    {
        xPoll.axDescriptors[ xIndex ].sRevents = ( iReady > 0 ) ? xPollFds[ xIndex ].revents : 0;
    }

    vTaskSuspendAll();
    pxFinish( &xPoll, iReady, iErrno );
    ( void ) xTaskResumeAll();
}

/* The idle task's "wait for interrupt": sleep in the host kernel until a signal arrives (or,
 * with a poller installed, until a device's host descriptors are ready). The tick signal
 * comes every tick, so the idle task never sleeps longer than one tick; a simulated interrupt
 * wakes it at once. Without this the idle task spins a host core at 100 %, and on a two-core
 * machine the host threads that carry the network then wait for the host scheduler. */
void vApplicationIdleHook( void )
{
    ShimIdlePrepare_t pxPrepare = atomic_load( &xIdlePrepare );
    ShimIdleFinish_t pxFinish = atomic_load( &xIdleFinish );

    atomic_store( &xIdleLastRan, xTaskGetTickCount() );

    if( ( pxPrepare != NULL ) && ( pxFinish != NULL ) )
    {
        prvIdlePoll( pxPrepare, pxFinish );
    }
    else
    {
        ( void ) pause();
    }
}

void vShimBlockKernelSignals( void )
{
    sigset_t xKernelSignals;

    sigemptyset( &xKernelSignals );
    sigaddset( &xKernelSignals, SIGALRM ); /* the tick */
    sigaddset( &xKernelSignals, SIGUSR1 ); /* SIG_RESUME in port.c */
    sigaddset( &xKernelSignals, SHIM_INTERRUPT_SIGNAL ); /* simulated interrupts */
    ( void ) pthread_sigmask( SIG_BLOCK, &xKernelSignals, NULL );
}
