#!/bin/sh
echo never run >>"$GG_TRACE"
