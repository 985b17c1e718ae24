/* placeholder until its owner writes it */
#include "geqc.h"
