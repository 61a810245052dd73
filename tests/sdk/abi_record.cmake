# The SDK's headers are its ABI. This check hashes them and compares the hash with the one
# recorded next to the ABI version in sdk/abi-record.txt ("<kAbiVersion> <sha256>"). A header
# change fails it until the record is updated — the moment to decide whether kAbiVersion must be
# bumped (a layout or virtual-table change crossing the boundary: yes; a comment: no).
#   cmake -DSDK_DIR=<repo>/sdk -P abi_record.cmake
file(GLOB headers RELATIVE ${SDK_DIR}/include ${SDK_DIR}/include/automatelinux/sdk/*.hpp)
list(SORT headers)
set(all "")
foreach(header IN LISTS headers)
  file(READ ${SDK_DIR}/include/${header} text)
  string(APPEND all "${header}\n${text}\n")
endforeach()
string(SHA256 hash "${all}")

file(STRINGS ${SDK_DIR}/include/automatelinux/sdk/plugin.hpp abi_line
     REGEX "inline constexpr std::uint32_t kAbiVersion = [0-9]+;")
string(REGEX MATCH "kAbiVersion = ([0-9]+)" matched "${abi_line}")
set(abi "${CMAKE_MATCH_1}")

file(READ ${SDK_DIR}/abi-record.txt record)
string(STRIP "${record}" record)
separate_arguments(fields UNIX_COMMAND "${record}")
list(GET fields 0 recorded_abi)
list(GET fields 1 recorded_hash)

if(NOT abi STREQUAL recorded_abi)
  message(FATAL_ERROR "kAbiVersion is ${abi} but sdk/abi-record.txt records ${recorded_abi}: "
                      "update the record to '${abi} ${hash}'")
endif()
if(NOT hash STREQUAL recorded_hash)
  message(FATAL_ERROR "the SDK headers changed since ABI ${abi} was recorded. Decide whether "
                      "kAbiVersion must be bumped (types or virtual functions that cross the "
                      "plugin boundary changed), then write '<kAbiVersion> ${hash}' to sdk/abi-record.txt")
endif()
message(STATUS "SDK headers match the record for ABI ${abi}")
