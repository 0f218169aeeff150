#!/bin/sh
# Guest script of tests/vm/tcg-migration-stress.sh
echo MEMCK-START
/usr/bin/memck
echo "MEMCK-EXIT $?"
