/* placeholder until its owner writes it */
#include "geqrt.h"
