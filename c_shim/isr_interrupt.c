/*
 * Interrupt lines for ports on real hardware (see freertos_shim.h): the card's interrupt
 * handler calls vShimInterruptRaise, which notifies the attached task from interrupt context.
 * The handler's priority must be at or below configMAX_SYSCALL_INTERRUPT_PRIORITY, as for any
 * ...FromISR call.
 */
#include "freertos_shim.h"

static volatile TaskHandle_t xLineTargets[ SHIM_INTERRUPT_LINES ];

BaseType_t xShimInterruptAttach( UBaseType_t uxLine, TaskHandle_t xTask )
{
    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return pdFAIL;
    }

    taskENTER_CRITICAL();
    xLineTargets[ uxLine ] = xTask;
    taskEXIT_CRITICAL();
    return pdPASS;
}

void vShimInterruptDetachTask( TaskHandle_t xTask )
{
    UBaseType_t uxLine;

    taskENTER_CRITICAL();

    for( uxLine = 0; uxLine < SHIM_INTERRUPT_LINES; uxLine++ )
    {
        if( xLineTargets[ uxLine ] == xTask )
        {
            xLineTargets[ uxLine ] = NULL;
        }
    }

    taskEXIT_CRITICAL();
}

void vShimInterruptRaise( UBaseType_t uxLine )
{
    BaseType_t xHigherPriorityTaskWoken = pdFALSE;
    TaskHandle_t xTarget;

    if( uxLine >= SHIM_INTERRUPT_LINES )
    {
        return;
    }

    xTarget = xLineTargets[ uxLine ];

    if( xTarget != NULL )
    {
        vTaskNotifyGiveIndexedFromISR( xTarget, 0, &xHigherPriorityTaskWoken );
    }

    portYIELD_FROM_ISR( xHigherPriorityTaskWoken );
}
