// The bench programs' command-line numbers: a whole number within [least, most], or a message
// naming the argument and exit status 2, before any work is done.
#pragma once

#include <cstdio>
#include <cstdlib>

inline long parse_whole_number(const char* text, long least, long most, const char* what) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < least || value > most) {
    std::fprintf(stderr, "%s: %s is not a whole number from %ld to %ld\n", what, text, least, most);
    std::exit(2);
  }
  return value;
}
