/*
 * Port-independent glue: macro wrappers, the task trampoline, heap figures and hooks.
 * See freertos_shim.h for what each function promises.
 */
#include "freertos_shim.h"

#include <string.h>

/* heap_4's array (configAPPLICATION_ALLOCATED_HEAP == 1), defined here so the Rust
 * allocator can tell FreeRTOS-heap blocks from host-heap blocks by address. Aligned
 * beyond heap_4's 8 bytes so that the usable region starts at the array itself. */
uint8_t ucHeap[ configTOTAL_HEAP_SIZE ] __attribute__( ( aligned( 64 ) ) );

static volatile size_t xMallocFailedCount = 0;

static void prvTaskTrampoline( void * pvArgument )
{
    vFreeRtosHttpsRunTask( pvArgument );

    /* The Rust frames are gone: deleting the task here unwinds nothing but this C
     * frame. On the POSIX port vTaskDelete( NULL ) does not return. */
    vTaskDelete( NULL );

    for( ; ; )
    {
    }
}

BaseType_t xShimTaskCreate( const char * pcName,
                            configSTACK_DEPTH_TYPE uxStackDepthWords,
                            void * pvArgument,
                            UBaseType_t uxPriority,
                            TaskHandle_t * pxCreatedTask )
{
    return xTaskCreate( prvTaskTrampoline, pcName, uxStackDepthWords, pvArgument,
                        uxPriority, pxCreatedTask );
}

void vShimEnterCritical( void )
{
    taskENTER_CRITICAL();
}

void vShimExitCritical( void )
{
    taskEXIT_CRITICAL();
}

void vShimYield( void )
{
    taskYIELD();
}

QueueHandle_t xShimQueueCreate( UBaseType_t uxLength, UBaseType_t uxItemSize )
{
    return xQueueCreate( uxLength, uxItemSize );
}

BaseType_t xShimQueueSendToBack( QueueHandle_t xQueue, const void * pvItem, TickType_t xTicksToWait )
{
    return xQueueSendToBack( xQueue, pvItem, xTicksToWait );
}

SemaphoreHandle_t xShimMutexCreate( void )
{
    return xSemaphoreCreateMutex();
}

BaseType_t xShimMutexTake( SemaphoreHandle_t xMutex, TickType_t xTicksToWait )
{
    return xSemaphoreTake( xMutex, xTicksToWait );
}

BaseType_t xShimMutexGive( SemaphoreHandle_t xMutex )
{
    return xSemaphoreGive( xMutex );
}

BaseType_t xShimNotifyGive( TaskHandle_t xTask, UBaseType_t uxIndex )
{
    return xTaskNotifyGiveIndexed( xTask, uxIndex );
}

uint32_t ulShimNotifyTake( UBaseType_t uxIndex, BaseType_t xClearCountOnExit, TickType_t xTicksToWait )
{
    return ulTaskNotifyTakeIndexed( uxIndex, xClearCountOnExit, xTicksToWait );
}

#ifdef FREERTOS_HTTPS_HEAP_TRACE
/* src/board/posix/heap_trace.rs */
BaseType_t xFreeRtosHttpsHeapTracing( void );
void vFreeRtosHttpsHeapOwnerHint( uint8_t ucOwner );
#endif

void * pvShimCalloc( size_t xCount, size_t xSize )
{
    size_t xBytes;
    void * pv;

    if( ( xSize != 0 ) && ( xCount > ( SIZE_MAX / xSize ) ) )
    {
        return NULL;
    }

    xBytes = xCount * xSize;
#ifdef FREERTOS_HTTPS_HEAP_TRACE
    if( xFreeRtosHttpsHeapTracing() != pdFALSE )
    {
        /* Charged to Mbed TLS (owner 1): with the scheduler suspended no other task can
         * allocate between the hint and the allocation. */
        vTaskSuspendAll();
        vFreeRtosHttpsHeapOwnerHint( 1 );
        pv = pvPortMalloc( ( xBytes == 0 ) ? 1 : xBytes );
        vFreeRtosHttpsHeapOwnerHint( UINT8_MAX );
        ( void ) xTaskResumeAll();
    }
    else
#endif
    {
        pv = pvPortMalloc( ( xBytes == 0 ) ? 1 : xBytes );
    }

    if( pv != NULL )
    {
        memset( pv, 0, xBytes );
    }

    return pv;
}

void vShimFree( void * pv )
{
    vPortFree( pv );
}

size_t xShimHeapTotalSize( void )
{
    return configTOTAL_HEAP_SIZE;
}

uintptr_t uxShimHeapStart( void )
{
    return ( uintptr_t ) &ucHeap[ 0 ];
}

uintptr_t uxShimHeapEnd( void )
{
    return ( uintptr_t ) &ucHeap[ 0 ] + configTOTAL_HEAP_SIZE;
}

size_t xShimMallocFailedCount( void )
{
    return xMallocFailedCount;
}

TickType_t xShimTickRateHz( void )
{
    return configTICK_RATE_HZ;
}

UBaseType_t uxShimMaxPriorities( void )
{
    return configMAX_PRIORITIES;
}

configSTACK_DEPTH_TYPE uxShimMinimalStackSize( void )
{
    return configMINIMAL_STACK_SIZE;
}

/* pvPortMalloc calls this with the scheduler suspended: count, never block or log. */
void vApplicationMallocFailedHook( void )
{
    xMallocFailedCount = xMallocFailedCount + 1;
}

#if ( configGENERATE_RUN_TIME_STATS == 1 ) && ( INCLUDE_xTaskGetIdleTaskHandle == 1 )
uint32_t ulShimBusyCounter( void )
{
    configRUN_TIME_COUNTER_TYPE xTotal;
    configRUN_TIME_COUNTER_TYPE xIdle;

    taskENTER_CRITICAL();
    xTotal = portGET_RUN_TIME_COUNTER_VALUE();
    xIdle = ulTaskGetIdleRunTimeCounter();
    taskEXIT_CRITICAL();
    return ( uint32_t ) ( xTotal - xIdle );
}
#endif

#if ( INCLUDE_xTaskGetHandle == 1 ) && ( INCLUDE_uxTaskGetStackHighWaterMark == 1 )
size_t xShimStackUnusedBytes( const char * pcTaskName )
{
    TaskHandle_t xTask = xTaskGetHandle( pcTaskName );

    if( xTask == NULL )
    {
        return SIZE_MAX;
    }

    return ( size_t ) uxTaskGetStackHighWaterMark( xTask ) * sizeof( StackType_t );
}

size_t xShimCurrentStackUnusedBytes( void )
{
    /* A NULL handle is the running task: the kernel only scans its stack for the fill byte. */
    return ( size_t ) uxTaskGetStackHighWaterMark( NULL ) * sizeof( StackType_t );
}
#endif
