/* kernel.c: prints the micro-kernel geqc's runtime picks on this machine ("avx512", "avx2"
 * or "c"; GEQRT_KERNEL may ask for another), for `make bench`'s report. */
#include <stdio.h>

#include "geqrt.h"

int main(void)
{
	puts(gq_conv_kernel());
	return 0;
}
