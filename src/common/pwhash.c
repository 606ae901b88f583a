#include "pwhash.h"
