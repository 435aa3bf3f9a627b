/*
 * A stand-in for Windows' bcryptprimitives.dll, for wine 8, which lacks it. Rust's standard
 * library on Windows takes its random numbers from ProcessPrng in that DLL; without it a Rust
 * program exits with status 53 before printing anything. This one forwards to RtlGenRandom
 * (advapi32's SystemFunction036), the system CSPRNG wine does have. Built with mingw-w64 by
 * scripts/wine-run.sh into the wine prefix; never part of the product.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036( PVOID pvBuffer, ULONG ulLength );

BOOL WINAPI ProcessPrng( PBYTE pbData, SIZE_T cbData )
{
    while( cbData > 0 )
    {
        ULONG ulChunk = ( cbData > 0x7fffffffUL ) ? 0x7fffffffUL : ( ULONG ) cbData;

        if( !SystemFunction036( pbData, ulChunk ) )
        {
            return FALSE;
        }

        pbData += ulChunk;
        cbData -= ulChunk;
    }

    return TRUE;
}
