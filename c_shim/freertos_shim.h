/*
 * C glue between the FreeRTOS kernel and the Rust RTOS layer (src/rtos/).
 *
 * The kernel's API is partly function-like macros (taskENTER_CRITICAL, xQueueCreate,
 * portYIELD...) that bindgen cannot see, and on Cortex-M ports some of them are inline
 * assembly. Each is wrapped here in a real function so the Rust side calls one symbol on
 * every port. Everything else the Rust layer calls is a plain kernel function, bound by
 * bindgen straight from the kernel headers.
 */
#ifndef FREERTOS_SHIM_H
#define FREERTOS_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "FreeRTOS.h"
#include "task.h"
#include "queue.h"
#include "semphr.h"

/* Kernel constants defined as cast macros, which bindgen cannot evaluate, restated as
 * enumerators so the Rust bindings take their values from the kernel headers. */
enum ShimKernelConstants
{
    SHIM_PD_TRUE = pdTRUE,
    SHIM_PD_FALSE = pdFALSE,
    SHIM_PD_PASS = pdPASS,
    SHIM_SCHEDULER_NOT_STARTED = taskSCHEDULER_NOT_STARTED,
    SHIM_SCHEDULER_RUNNING = taskSCHEDULER_RUNNING
};

/* The Rust function every task created by xShimTaskCreate runs. It receives the task's
 * argument and must not unwind. Defined in src/rtos/task.rs. */
void vFreeRtosHttpsRunTask( void * pvArgument );

/* Creates a task that runs vFreeRtosHttpsRunTask( pvArgument ) and deletes itself when
 * that returns, so Rust task code is never unwound by the kernel. Returns pdPASS, or
 * errCOULD_NOT_ALLOCATE_REQUIRED_MEMORY. */
BaseType_t xShimTaskCreate( const char * pcName,
                            configSTACK_DEPTH_TYPE uxStackDepthWords,
                            void * pvArgument,
                            UBaseType_t uxPriority,
                            TaskHandle_t * pxCreatedTask );

/* taskENTER_CRITICAL / taskEXIT_CRITICAL / taskYIELD as functions. */
void vShimEnterCritical( void );
void vShimExitCritical( void );
void vShimYield( void );

/* xQueueCreate, xQueueSend (to back), xSemaphoreCreateMutex, xSemaphoreTake,
 * xSemaphoreGive as functions. */
QueueHandle_t xShimQueueCreate( UBaseType_t uxLength, UBaseType_t uxItemSize );
BaseType_t xShimQueueSendToBack( QueueHandle_t xQueue, const void * pvItem, TickType_t xTicksToWait );
SemaphoreHandle_t xShimMutexCreate( void );
BaseType_t xShimMutexTake( SemaphoreHandle_t xMutex, TickType_t xTicksToWait );
BaseType_t xShimMutexGive( SemaphoreHandle_t xMutex );

/* Task notifications (xTaskNotifyGiveIndexed / ulTaskNotifyTakeIndexed). */
BaseType_t xShimNotifyGive( TaskHandle_t xTask, UBaseType_t uxIndex );
uint32_t ulShimNotifyTake( UBaseType_t uxIndex, BaseType_t xClearCountOnExit, TickType_t xTicksToWait );

/* calloc and free on the FreeRTOS heap, for Mbed TLS (mbedtls_platform_set_calloc_free):
 * its memory then shows in the heap figures, and a task never takes the C library's
 * allocator lock. Call from tasks only. */
void * pvShimCalloc( size_t xCount, size_t xSize );
void vShimFree( void * pv );

/* The heap_4 array, and how often pvPortMalloc has returned NULL. */
size_t xShimHeapTotalSize( void );
uintptr_t uxShimHeapStart( void );
uintptr_t uxShimHeapEnd( void );
size_t xShimMallocFailedCount( void );

/* configTICK_RATE_HZ, configMAX_PRIORITIES and configMINIMAL_STACK_SIZE as compiled. */
TickType_t xShimTickRateHz( void );
UBaseType_t uxShimMaxPriorities( void );
configSTACK_DEPTH_TYPE uxShimMinimalStackSize( void );

/* Interrupt lines: how a network card's interrupt wakes the task that serves it. Raising a
 * line gives notification index 0 of the task attached to it, and switches to that task at
 * once if it has a higher priority. One implementation per port:
 *
 * - posix_port.c (the POSIX simulator): the card is a host thread, which must not call the
 *   kernel, not even ...FromISR functions (on the POSIX port they race with the running
 *   task). vShimInterruptRaise only marks the line pending and signals the thread of the
 *   running task; that thread then runs the line's service routine as an interrupt handler,
 *   the same way the port runs the tick. The tick hook services pending lines too, so a
 *   wake-up is never later than one tick.
 * - isr_interrupt.c (boards): vShimInterruptRaise is called from the card's interrupt handler
 *   and gives the notification with vTaskNotifyGiveIndexedFromISR. */
#define SHIM_INTERRUPT_LINES    4

/* Attaches uxLine to xTask (NULL detaches). Returns pdPASS, or pdFAIL for a bad line. Call
 * from a task or before the scheduler starts. */
BaseType_t xShimInterruptAttach( UBaseType_t uxLine, TaskHandle_t xTask );

/* Detaches every line attached to xTask: called by a task just before it is deleted. */
void vShimInterruptDetachTask( TaskHandle_t xTask );

/* Raises uxLine. Simulator: callable from any thread, including host threads. Board: from an
 * interrupt handler. Never blocks. */
void vShimInterruptRaise( UBaseType_t uxLine );

/* ---- POSIX simulator only (posix_port.c) ------------------------------------------------ */

/* The idle task's "wait for interrupt". By default the idle hook sleeps in pause(2) until
 * the next signal (the tick or a simulated interrupt). A simulated device whose work waits on
 * host descriptors (the slirp network card) installs a poller, and the idle hook then sleeps
 * in poll(2) on its descriptors instead, which every signal still interrupts:
 *
 *   1. pxPrepare runs with the scheduler suspended and fills in the descriptors and the
 *      timeout of the hook's own ShimIdlePoll_t; pdFALSE: nothing to poll, sleep until the
 *      next signal.
 *   2. The scheduler resumes. If that switched to another task, that task may have changed
 *      what the device waits for, so the hook returns and the idle task plans again.
 *   3. poll(2), with the scheduler running, on the descriptors of that same ShimIdlePoll_t.
 *   4. pxFinish runs with the scheduler suspended, with the results in the same structure,
 *      poll's return value and errno.
 *
 * The structure belongs to the hook (the idle task's alone) from step 1 to step 4, so the
 * device never hands out memory of its own. The hook, not the device, suspends and resumes the scheduler
 * and sleeps, so the idle thread is never switched out inside the device's code. */
#define SHIM_IDLE_POLL_MAX    256

typedef struct ShimPollDescriptor
{
    int iFd;
    short sEvents;  /* poll(2) event bits wanted */
    short sRevents; /* poll(2) event bits seen */
} ShimPollDescriptor_t;

typedef struct ShimIdlePoll
{
    ShimPollDescriptor_t axDescriptors[ SHIM_IDLE_POLL_MAX ];
    size_t xCount;
    int iTimeoutMs;
} ShimIdlePoll_t;
typedef BaseType_t ( * ShimIdlePrepare_t )( ShimIdlePoll_t * pxPoll );
typedef void ( * ShimIdleFinish_t )( const ShimIdlePoll_t * pxPoll, int iReady, int iErrno );
void vShimSetIdlePoller( ShimIdlePrepare_t pxPrepare, ShimIdleFinish_t pxFinish );

/* The tick count when the idle hook last ran. */
TickType_t xShimIdleLastRan( void );

/* From the tick, raises uxLine while the idle task has not run for xTicks ticks or more: a
 * device that is served from the idle task still gets attention when busy tasks starve it.
 * Returns pdFAIL for a bad line. */
BaseType_t xShimRaiseWhenIdleStarved( UBaseType_t uxLine, TickType_t xTicks );

/* Blocks, in the calling host thread, the signals the port uses to drive tasks (the tick and
 * the resume signal), so that a host thread can never run kernel code from a signal. */
void vShimBlockKernelSignals( void );

/* Bytes of the named task's stack never used so far (its high-water mark), or SIZE_MAX when
 * no task has that name. Only on ports whose tasks run on their FreeRTOS stacks (not POSIX). */
size_t xShimStackUnusedBytes( const char * pcTaskName );

/* The same for the running task, without taking any lock: callable from a fault handler. 0 means
 * the fill pattern at the stack's far end is gone, i.e. the stack overflowed. */
size_t xShimCurrentStackUnusedBytes( void );

/* Run-time counter counts spent outside the idle task since the scheduler started (idle's
 * counter subtracted from the total, read together). Only on ports that generate run-time
 * statistics (configGENERATE_RUN_TIME_STATS); it wraps with the counter. */
uint32_t ulShimBusyCounter( void );

#endif /* FREERTOS_SHIM_H */
