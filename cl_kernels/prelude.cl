/* Common prelude for every clgrad kernel (OpenCL C 1.2). */
#ifdef CLGRAD_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#define KERNEL __kernel
#define GLOBAL __global
#define LOCAL_BARRIER barrier(CLK_LOCAL_MEM_FENCE)
