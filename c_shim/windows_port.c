/*
 * The Windows simulator's side of the shim (the kernel's MSVC-MingW port): interrupt lines on
 * the port's simulated interrupts, and the idle hook (see freertos_shim.h).
 *
 * On this port every task is a Windows thread, and one more thread, the port's "simulated
 * interrupt" thread, runs the tick and every simulated interrupt handler while the running
 * task's thread is suspended; a kernel critical section holds the mutex that thread waits on.
 * So a handler installed with vPortSetInterruptHandler runs exactly like an interrupt on a
 * board: never inside a critical section, never beside a running task.
 *
 * All lines share one simulated interrupt: raising a line marks it pending and pends the
 * interrupt; the handler gives the notification of every task whose line is pending.
 */
#include "freertos_shim.h"

#include <stdatomic.h>
#include <windows.h>

/* The simulated interrupt the lines use: the first one the port leaves to the application. */
#define SHIM_LINES_INTERRUPT    ( portINTERRUPT_APPLICATION_DEFINED_START )

static _Atomic( TaskHandle_t ) xLineTargets[ SHIM_INTERRUPT_LINES ];
static atomic_int xLinePending[ SHIM_INTERRUPT_LINES ];
static atomic_int xHandlerInstalled;

/* The simulated interrupt handler: returns non-zero when a task switch is needed. */
static uint32_t prvServicePendingLines( void )
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

    return ( uint32_t ) ( xHigherPriorityTaskWoken != pdFALSE );
}

static void prvInstallHandler( void )
{
    if( atomic_exchange( &xHandlerInstalled, 1 ) == 0 )
    {
        vPortSetInterruptHandler( SHIM_LINES_INTERRUPT, prvServicePendingLines );
    }
}

BaseType_t xShimInterruptAttach( UBaseType_t uxLine, TaskHandle_t xTask )
{
    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return pdFAIL;
    }

    prvInstallHandler();
    atomic_store( &xLineTargets[ uxLine ], xTask );

    /* A line raised before it was attached is serviced now rather than at the next raise. */
    if( ( xTask != NULL ) && ( atomic_load( &xLinePending[ uxLine ] ) != 0 ) &&
        ( xTaskGetSchedulerState() != taskSCHEDULER_NOT_STARTED ) )
    {
        vPortGenerateSimulatedInterrupt( SHIM_LINES_INTERRUPT );
    }

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

/* Whether the calling thread is the thread of the task the kernel is running. The port keeps
 * its per-task record (whose first member is the thread's handle) where the TCB's first member,
 * the top of stack, points; the port's own vPortGenerateSimulatedInterrupt reads it the same
 * way. */
static BOOL prvCallerIsRunningTask( void )
{
    TaskHandle_t xRunning = xTaskGetCurrentTaskHandle();
    HANDLE * pxThreadState;

    if( xRunning == NULL )
    {
        return FALSE;
    }

    pxThreadState = *( HANDLE ** ) xRunning;
    return ( pxThreadState != NULL ) && ( GetThreadId( *pxThreadState ) == GetCurrentThreadId() );
}

void vShimInterruptRaise( UBaseType_t uxLine )
{
    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return;
    }

    prvInstallHandler();
    atomic_store( &xLinePending[ uxLine ], 1 );

    if( xTaskGetSchedulerState() == taskSCHEDULER_NOT_STARTED )
    {
        return; /* serviced when its task attaches, or at the next raise */
    }

    if( prvCallerIsRunningTask() )
    {
        /* A task pends the interrupt and waits for it to run, as portYIELD does. */
        vPortGenerateSimulatedInterrupt( SHIM_LINES_INTERRUPT );
    }
    else
    {
        /* A host thread: the port's entry for threads the kernel does not schedule. */
        vPortGenerateSimulatedInterruptFromWindowsThread( SHIM_LINES_INTERRUPT );
    }
}

/* The idle task's "wait for interrupt": sleep until about the next tick instead of spinning
 * a host core. Interrupts are not delayed by it: the simulated interrupt thread switches tasks
 * by suspending and resuming threads, whatever the idle thread is doing. */
void vApplicationIdleHook( void )
{
    Sleep( 1 );
}
