/* ragd/main.c: the `ragd` program (see ragd/daemon.c). */
#include "ragd/daemon.h"

int main(int argc, char **argv)
{
    return ragd_main(argc, argv);
}
