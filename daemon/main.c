/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon/cli.h"

int main(int argc, char **argv)
{
        return cli_run(argc, argv);
}
