/*
 * FreeRTOS kernel configuration for the freertos-https device application.
 *
 * One header for every port this project builds: the POSIX simulator, the Windows simulator
 * (MSVC-MingW), and ARM Cortex-M4F
 * (GCC/ARM_CM4F). Values that differ per port are guarded by the FREERTOS_HTTPS_PORT_* macro
 * that build.rs defines.
 * Values the build can change are wrapped in #ifndef so that build.rs can pass -D flags:
 *   configTOTAL_HEAP_SIZE   FreeRTOS heap (heap_4) in bytes; env FREERTOS_HEAP_SIZE.
 */
#ifndef FREERTOS_CONFIG_H
#define FREERTOS_CONFIG_H

/* ---- Scheduling ------------------------------------------------------------------- */
#define configUSE_PREEMPTION                       1
#define configUSE_TIME_SLICING                     1
#define configUSE_PORT_OPTIMISED_TASK_SELECTION    0
#define configTICK_RATE_HZ                         1000
#define configMAX_PRIORITIES                       16
#define configIDLE_SHOULD_YIELD                    1
#define configMAX_TASK_NAME_LEN                    16
#define configNUMBER_OF_CORES                      1

#if defined( FREERTOS_HTTPS_PORT_POSIX ) || defined( FREERTOS_HTTPS_PORT_WINDOWS )
    /* The POSIX port's TickType_t is `unsigned long`, 64 bits on every supported host:
     * declare the same width so the kernel's checks and the Rust bindings agree. A 32-bit
     * tick wraps after 49 days; 64 bits never does. */
    #define configTICK_TYPE_WIDTH_IN_BITS          TICK_TYPE_WIDTH_64_BITS
    /* Task code runs on its host thread's own stack (a pthread, or a Windows thread), so the
     * block the kernel takes from the FreeRTOS heap for a task's "stack" only ever holds the
     * port's record of that thread: the POSIX port's Thread_t (40 bytes on x86-64) or the
     * Windows port's ThreadState_t. 64 words of 8 bytes (512 B) leave room to spare; a
     * bigger block would be heap that nothing uses. The tasks' real stacks are measured by
     * painting the host threads' stacks (src/board/posix/stack_paint.rs). The Windows port
     * (MSVC-MingW) takes 64-bit ticks on x64 too (atomic there). */
    #define configMINIMAL_STACK_SIZE               ( ( unsigned short ) 64 )
#else
    #define configTICK_TYPE_WIDTH_IN_BITS          TICK_TYPE_WIDTH_32_BITS
    /* The idle task's stack (128 words, 512 B): its high-water mark on the Cortex-M board is
     * 84-108 B (the kernel's idle loop and the frees of deleted tasks; no idle hook there).
     * Tasks created from Rust get at least this, and the port's default size when they name
     * none (src/board/<board>/port.rs, DEFAULT_TASK_STACK_BYTES). */
    #define configMINIMAL_STACK_SIZE               ( ( unsigned short ) 128 )
#endif

#ifdef FREERTOS_HTTPS_PORT_ARM_CM4F
    /* The board sets the clock it runs at; 25 MHz is QEMU's mps2-an386. */
    #ifndef configCPU_CLOCK_HZ
        #define configCPU_CLOCK_HZ                 ( ( unsigned long ) 25000000 )
    #endif
    /* Interrupt priorities in the NVIC's terms: three priority bits are implemented by every
     * Cortex-M4 part, so the values fit all of them. The kernel runs at the lowest priority;
     * interrupt handlers that call ...FromISR must be at priority 5 (0xA0) or lower (higher
     * numbers). */
    #define configPRIO_BITS                        3
    #define configKERNEL_INTERRUPT_PRIORITY        ( 7 << ( 8 - configPRIO_BITS ) )
    #define configMAX_SYSCALL_INTERRUPT_PRIORITY   ( 5 << ( 8 - configPRIO_BITS ) )
    /* The kernel's handlers are the vector table's entries themselves (cortex-m-rt names). */
    #define vPortSVCHandler                        SVCall
    #define xPortPendSVHandler                     PendSV
    #define xPortSysTickHandler                    SysTick
#endif

#define configSTACK_DEPTH_TYPE                     size_t
#define configMESSAGE_BUFFER_LENGTH_TYPE           size_t

/* ---- Memory: heap_4, the heap array is defined by the application (c_shim) -------- */
#define configSUPPORT_STATIC_ALLOCATION            0
#define configSUPPORT_DYNAMIC_ALLOCATION           1
#define configAPPLICATION_ALLOCATED_HEAP           1
#ifndef configTOTAL_HEAP_SIZE
    #define configTOTAL_HEAP_SIZE                  ( ( size_t ) ( 512 * 1024 ) )
#endif
#define configHEAP_CLEAR_MEMORY_ON_FREE            0

/* ---- Primitives the Rust layer uses ------------------------------------------------ */
#define configUSE_TASK_NOTIFICATIONS               1
#define configTASK_NOTIFICATION_ARRAY_ENTRIES      2
#define configUSE_MUTEXES                          1
#define configUSE_RECURSIVE_MUTEXES                0
#define configUSE_COUNTING_SEMAPHORES              1
#define configUSE_QUEUE_SETS                       0
#define configQUEUE_REGISTRY_SIZE                  0
/* No software timers are used: no timer task, no timer queue on the heap. */
#define configUSE_TIMERS                           0
#define configTIMER_TASK_PRIORITY                  ( configMAX_PRIORITIES - 1 )
#define configTIMER_QUEUE_LENGTH                   8
#define configTIMER_TASK_STACK_DEPTH               ( configMINIMAL_STACK_SIZE * 2 ) /* no software timers are used yet */
#define configUSE_CO_ROUTINES                      0
#define configENABLE_BACKWARD_COMPATIBILITY        0
/* Slot 0 holds the Rust task's liveness record (src/rtos/task.rs). */
#define configNUM_THREAD_LOCAL_STORAGE_POINTERS    1
#define configUSE_NEWLIB_REENTRANT                 0

/* ---- Heap trace (simulator) ---------------------------------------------------------- */
#ifdef FREERTOS_HTTPS_PORT_POSIX
    /* src/board/posix/heap_trace.rs: heap in use at every allocation and free, and the peak
     * by owner. Called by heap_4 with the scheduler suspended; they return at once unless the
     * trace is on (IOT_HEAP_TRACE). */
    #define FREERTOS_HTTPS_HEAP_TRACE              1
    void vFreeRtosHttpsHeapTraceMalloc( void * pvBlock, size_t xSize );
    void vFreeRtosHttpsHeapTraceFree( void * pvBlock, size_t xSize );
    #define traceMALLOC( pvAddress, uiSize )       vFreeRtosHttpsHeapTraceMalloc( ( pvAddress ), ( uiSize ) )
    #define traceFREE( pvAddress, uiSize )         vFreeRtosHttpsHeapTraceFree( ( pvAddress ), ( uiSize ) )
#endif

/* ---- Hooks ------------------------------------------------------------------------- */
#ifdef FREERTOS_HTTPS_PORT_POSIX
    /* c_shim/posix_port.c: the idle hook waits for the next signal (tick or simulated
     * interrupt), the simulator's "wait for interrupt", so an idle device does not spin a host
     * core; the tick hook services simulated interrupt lines. */
    #define configUSE_IDLE_HOOK                    1
    #define configUSE_TICK_HOOK                    1
#elif defined( FREERTOS_HTTPS_PORT_WINDOWS )
    /* c_shim/windows_port.c: the idle hook sleeps about one tick instead of spinning a host
     * core (the port switches tasks from its own interrupt thread, so this delays nothing);
     * interrupt lines ride on the port's simulated interrupts, which need no tick hook. */
    #define configUSE_IDLE_HOOK                    1
    #define configUSE_TICK_HOOK                    0
#else
    #define configUSE_IDLE_HOOK                    0
    #define configUSE_TICK_HOOK                    0
#endif
/* Counts failures instead of stopping: Mbed TLS and the network stack handle a NULL
 * from pvPortMalloc gracefully, and the count shows in the heap report. */
#define configUSE_MALLOC_FAILED_HOOK               1
#define configUSE_DAEMON_TASK_STARTUP_HOOK         0
#if defined( FREERTOS_HTTPS_PORT_POSIX ) || defined( FREERTOS_HTTPS_PORT_WINDOWS )
    /* Meaningless on the simulators (task code runs on its host thread's own stack). */
    #define configCHECK_FOR_STACK_OVERFLOW         0
#else
    /* A task's stack is a block of the heap: an overflow silently corrupts its neighbours (a
     * 2 KiB stack did, measured). Method 2 checks the stack's last 16 bytes at each switch;
     * the board's vApplicationStackOverflowHook prints the task's name and stops. */
    #define configCHECK_FOR_STACK_OVERFLOW         2
#endif

/* ---- Diagnostics ------------------------------------------------------------------- */
#define configUSE_TRACE_FACILITY                   0
#define configUSE_STATS_FORMATTING_FUNCTIONS       0
#ifdef FREERTOS_HTTPS_PORT_ARM_CM4F
    /* Run-time statistics on the board: the counter is a free-running timer at the CPU clock
     * (the board's vBoardRunTimeCounterStart and ulBoardRunTimeCounter), so the time spent
     * outside the idle task can be measured (ulShimBusyCounter). Under QEMU with -icount
     * shift=0 a count is 40 instructions. */
    #define configGENERATE_RUN_TIME_STATS          1
    #ifndef __ASSEMBLER__
        void vBoardRunTimeCounterStart( void );
        unsigned long ulBoardRunTimeCounter( void );
    #endif
    #define portCONFIGURE_TIMER_FOR_RUN_TIME_STATS()    vBoardRunTimeCounterStart()
    #define portGET_RUN_TIME_COUNTER_VALUE()            ulBoardRunTimeCounter()
    #define INCLUDE_xTaskGetIdleTaskHandle         1
#else
    #define configGENERATE_RUN_TIME_STATS          0
#endif

/* A failed kernel assertion prints "FreeRTOS assert failed: <file>:<line>" on stderr and
 * ends the process with exit status 70 (EX_SOFTWARE). It does not return: continuing
 * after a broken kernel invariant could corrupt state silently. */
void vFreeRtosHttpsAssertFailed( const char * pcFile, unsigned long ulLine );
#define configASSERT( x )    do { if( ( x ) == 0 ) { vFreeRtosHttpsAssertFailed( __FILE__, __LINE__ ); } } while( 0 )

/* ---- API functions compiled in: only what the Rust layer calls (each costs flash) ---- */
#define INCLUDE_vTaskDelete                        1 /* tasks that return; vTaskEndScheduler */
#define INCLUDE_vTaskDelay                         1
#define INCLUDE_xTaskDelayUntil                    0
#define INCLUDE_vTaskSuspend                       1 /* portMAX_DELAY blocks forever */
#define INCLUDE_vTaskPrioritySet                   0
#define INCLUDE_uxTaskPriorityGet                  0
#define INCLUDE_xTaskGetCurrentTaskHandle          1
#define INCLUDE_xTaskGetSchedulerState             1
#define INCLUDE_xTaskAbortDelay                    0
#define INCLUDE_xTaskResumeFromISR                 0
#define INCLUDE_eTaskGetState                      0
#ifdef FREERTOS_HTTPS_PORT_POSIX
    /* Meaningless on the POSIX port (task code runs on the pthread's stack). */
    #define INCLUDE_xTaskGetHandle                 0
    #define INCLUDE_uxTaskGetStackHighWaterMark    0
#else
    /* The board reports each task's unused stack (xShimStackUnusedBytes). */
    #define INCLUDE_xTaskGetHandle                 1
    #define INCLUDE_uxTaskGetStackHighWaterMark    1
#endif
#define INCLUDE_xTimerPendFunctionCall             0
#define INCLUDE_xSemaphoreGetMutexHolder           0

#endif /* FREERTOS_CONFIG_H */
