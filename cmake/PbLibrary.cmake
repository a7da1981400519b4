# pb_add_library(<name>
#   SOURCES  <.c files>
#   [INCLUDES <dirs>]    public include directories (besides include/)
#   [DEPS <partnerbus_* libraries>]
#   [EXTERNAL <imported targets or system libraries>]
#   [DEFINES <private compile definitions>])
#
# Creates the static library <name>, and, when PB_SAN_VARIANT is on, its
# sanitizer variant <name>_san: the same sources compiled with
# ${PB_SAN_FLAGS} (ASan+UBSan, plus libFuzzer's coverage hooks under clang),
# linking the _san variants of DEPS. Unit tests (unit.*.asan), the fuzz
# targets and partnerbus_san link the _san variants, so every library has
# one and no target compiles another library's sources again.
#
# Every library sees include/ (the public headers) and its own folder
# (its internal headers); a library that needs another's headers names it
# in DEPS. External dependencies are PUBLIC, as the headers may expose them.
function(pb_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;INCLUDES;DEPS;EXTERNAL;DEFINES" ${ARGN})
  set(variants ${name})
  if(PB_SAN_VARIANT)
    list(APPEND variants ${name}_san)
  endif()
  foreach(t ${variants})
    add_library(${t} STATIC ${A_SOURCES})
    target_include_directories(${t}
      PUBLIC ${PB_PUBLIC_INCLUDE_DIR} ${A_INCLUDES}
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_definitions(${t} PRIVATE _GNU_SOURCE ${A_DEFINES})
    target_link_libraries(${t} PUBLIC ${A_EXTERNAL})
    if(t STREQUAL "${name}_san")
      target_compile_options(${t} PUBLIC ${PB_SAN_FLAGS})
      target_link_options(${t} PUBLIC ${PB_SAN_LINK_FLAGS})
      foreach(d ${A_DEPS})
        target_link_libraries(${t} PUBLIC ${d}_san)
      endforeach()
    else()
      target_link_libraries(${t} PUBLIC ${A_DEPS})
    endif()
  endforeach()
endfunction()

# pb_san_targets(<out-var> <targets...>): the _san names of the targets.
function(pb_san_targets out)
  set(r "")
  foreach(t ${ARGN})
    list(APPEND r ${t}_san)
  endforeach()
  set(${out} ${r} PARENT_SCOPE)
endfunction()
