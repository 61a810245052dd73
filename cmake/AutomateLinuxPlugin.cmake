# automatelinux_add_plugin(<target> SOURCES <files…>)
# Declares a plugin: a MODULE library named <target>.so (no "lib" prefix) with hidden symbols,
# linked against the SDK. The same helper serves in-tree and out-of-tree plugins.
function(automatelinux_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES")
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET AutomateLinux::sdk)
    target_link_libraries(${target} PRIVATE AutomateLinux::sdk)
  else()
    target_link_libraries(${target} PRIVATE automatelinux_sdk)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON)
endfunction()
