/* rag/main_ragd.c: the `ragd` program (see rag/daemon.c). */
#include "rag/daemon.h"

int main(int argc, char **argv)
{
    return ragd_main(argc, argv);
}
