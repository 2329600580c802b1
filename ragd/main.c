/* ragd/main.c: the `ragd` program (see ragd/daemon.c). */
#include "ragd/daemon.h"
#include "base/mem.h"

int main(int argc, char **argv)
{
    rag_mem_tune();
    return ragd_main(argc, argv);
}
