#!/bin/sh
echo "RUNMATRIX-SUMMARY: sh says hi"
