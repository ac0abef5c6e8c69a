# sa_layer(NAME DIRS dir... LIBS lib... [EXTRA file...]): a static library sa_NAME from every
# .c under src/<dir>, linked PUBLIC to LIBS (the layers below it and system libraries), and
# a link check: an executable that pulls in EVERY object of the layer (whole-archive) and
# links it against LIBS alone. An object that calls a function of a higher layer leaves an
# undefined symbol there, and the build stops with the name of the caller.
add_custom_target(sa_layer_checks)
set(SA_LAYER_CHECK_MAIN ${CMAKE_BINARY_DIR}/layer_check_main.c)
file(WRITE ${SA_LAYER_CHECK_MAIN} "int main(void);\nint main(void) { return 0; }\n")

function(sa_layer name)
  cmake_parse_arguments(L "" "" "DIRS;LIBS;EXTRA" ${ARGN})
  set(srcs)
  foreach(d ${L_DIRS})
    file(GLOB_RECURSE found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${d}/*.c)
    list(APPEND srcs ${found})
  endforeach()
  add_library(sa_${name} STATIC ${srcs} ${L_EXTRA})
  target_include_directories(sa_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(sa_${name} PUBLIC ${L_LIBS})
  add_executable(sa_layer_check_${name} ${SA_LAYER_CHECK_MAIN})
  target_link_libraries(sa_layer_check_${name} PRIVATE
                        "$<LINK_LIBRARY:WHOLE_ARCHIVE,sa_${name}>" ${L_LIBS})
  set_target_properties(sa_layer_check_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_BINARY_DIR}/layer-checks)
  add_dependencies(sa_layer_checks sa_layer_check_${name})
endfunction()
