# gen-completions.cmake - write the bash, zsh and fish completions of feedwatch from the
# tables of daemon/main.c: optdefs[] (every option, with or without a value), commands[]
# (every command, the verbs of groups such as outbox and feeds, the options each takes,
# how many arguments), usage_text (one line of description per command), and OPT_GLOBAL
# in daemon/cli.h (the options every command takes). Run by config/CMakeLists.txt:
#   cmake -DMAIN_C=daemon/main.c -DCLI_H=daemon/cli.h -DOUT_DIR=DIR -P gen-completions.cmake
# tests/integration/test_install.py checks the result against `feedwatch help` and every
# command's --help, so a table this script no longer understands fails the test suite.
cmake_minimum_required(VERSION 3.25)

file(READ "${MAIN_C}" main)
file(READ "${CLI_H}" cli)

# The commands whose argument is a file (the others take a URL, a name or a row id).
set(file_args parse feeds_import)

# A few words on each option for zsh and fish; an option missing here shows its name.
set(desc_config "config file")
set(desc_text "text to match")
set(desc_json "JSON output")
set(desc_all "every dead alert")
set(desc_dead "dead alerts only")
set(desc_pending "pending alerts only")
set(desc_output "only this output")
set(desc_verbose "more log")
set(desc_quiet "less log")
set(desc_version "print the version")
set(desc_help "show help")
set(desc_since "how far back, a duration such as 2h")
set(desc_watchlist "only this watchlist")
set(desc_query "a query instead of a watchlist")
set(desc_name "name of the feed")
set(desc_interval "poll interval of the feed")
set(desc_tag "a tag for the feed")

# Options: OPT_STR('c', "config", OPT_CONFIG, config) / OPT_FLAG(0, "json", OPT_JSON).
string(REGEX MATCH "optdefs\\[N_OPTS\\] = {[^;]*};" block "${main}")
string(REGEX MATCHALL "OPT_(STR|FLAG)\\(([^,]*), \"([a-z-]+)\", (OPT_[A-Z_]+)" entries "${block}")
set(all_bits "")
foreach(e IN LISTS entries)
  string(REGEX MATCH "OPT_(STR|FLAG)\\(([^,]*), \"([a-z-]+)\", (OPT_[A-Z_]+)" _ "${e}")
  set(kind ${CMAKE_MATCH_1})
  set(short "${CMAKE_MATCH_2}")
  set(bit ${CMAKE_MATCH_4})
  set(long_${bit} "${CMAKE_MATCH_3}")
  set(short_${bit} "")
  if(short MATCHES "^'(.)'$")
    set(short_${bit} "${CMAKE_MATCH_1}")
  endif()
  set(arg_${bit} OFF)
  if(kind STREQUAL "STR")
    set(arg_${bit} ON)
  endif()
  list(APPEND all_bits ${bit})
endforeach()
list(LENGTH all_bits n_opts)
if(n_opts LESS 5)
  message(FATAL_ERROR "gen-completions: no option table found in ${MAIN_C}")
endif()

string(REGEX MATCH "OPT_GLOBAL = ([A-Z_ |]+)," _ "${cli}")
string(REGEX MATCHALL "OPT_[A-Z_]+" global_bits "${CMAKE_MATCH_1}")

# Commands: {"outbox", "list", OPT_CONFIG | OPT_JSON, 0, 0, ...
string(REGEX MATCH "commands\\[\\] = {.*\n};" block "${main}")
string(REGEX MATCHALL "{\"[a-z-]+\", (NULL|\"[a-z-]+\"),[ \n]*[A-Z_ |0\n]+,[ \n]*[0-9]+,[ \n]*[0-9]+,"
       entries "${block}")
set(keys "")
set(names "")
set(groups "")
foreach(e IN LISTS entries)
  string(REGEX MATCH "{\"([a-z-]+)\", (NULL|\"[a-z-]+\"),[ \n]*([A-Z_ |0\n]+),[ \n]*([0-9]+),[ \n]*([0-9]+),"
         _ "${e}")
  set(name ${CMAKE_MATCH_1})
  set(verb "${CMAKE_MATCH_2}")
  set(maxargs ${CMAKE_MATCH_5})
  string(REGEX MATCHALL "OPT_[A-Z_]+" bits "${CMAKE_MATCH_3}")
  string(REPLACE "\"" "" verb "${verb}")
  if(verb STREQUAL "NULL")
    set(key "${name}")
  else()
    set(key "${name}_${verb}")
    list(APPEND groups ${name})
    list(APPEND verbs_${name} ${verb})
  endif()
  list(APPEND names ${name})
  list(APPEND keys ${key})
  set(bits_${key} ${bits})
  set(args_${key} ${maxargs})
endforeach()
list(REMOVE_DUPLICATES names)
list(REMOVE_DUPLICATES groups)
list(LENGTH keys n_keys)
if(n_keys LESS 5)
  message(FATAL_ERROR "gen-completions: no command table found in ${MAIN_C}")
endif()

# One line of description per command from usage_text ("  init   [-c FILE]   write ...").
string(REGEX MATCH "usage_text\\[\\] =[^;]*;" usage "${main}")
string(REGEX MATCHALL "\"  [a-z-]+ [^\"]*\\\\n\"" lines "${usage}")
foreach(l IN LISTS lines)
  string(REGEX MATCH "\"  ([a-z-]+) (.*)\\\\n\"" _ "${l}")
  set(n ${CMAKE_MATCH_1})
  set(rest "${CMAKE_MATCH_2}")
  if(NOT DEFINED cdesc_${n} AND rest MATCHES "^.*  +([^ ].*)$")
    set(cdesc_${n} "${CMAKE_MATCH_1}")
  endif()
endforeach()
foreach(n IN LISTS names)
  if(NOT DEFINED cdesc_${n})
    set(cdesc_${n} "${n}")
  endif()
  string(REPLACE "'" "’" cdesc_${n} "${cdesc_${n}}")
  string(REPLACE "`" "" cdesc_${n} "${cdesc_${n}}")
endforeach()
foreach(g IN LISTS groups)
  string(REPLACE ";" " " verbs_text_${g} "${verbs_${g}}")
endforeach()

# The words of one option: "-c --config" or "--json".
function(opt_words bit out)
  set(w "--${long_${bit}}")
  if(short_${bit})
    set(w "-${short_${bit}} ${w}")
  endif()
  set(${out} "${w}" PARENT_SCOPE)
endfunction()

set(value_words "")
set(file_words "")
foreach(b IN LISTS all_bits)
  if(arg_${b})
    opt_words(${b} w)
    string(APPEND value_words " ${w}")
    if(long_${b} STREQUAL "config")
      string(APPEND file_words " ${w}")
    endif()
  endif()
endforeach()
string(STRIP "${value_words}" value_words)
string(STRIP "${file_words}" file_words)
string(REPLACE " " "|" value_case "${value_words}")
string(REPLACE " " "|" file_case "${file_words}")
set(global_words "")
foreach(b IN LISTS global_bits)
  opt_words(${b} w)
  string(APPEND global_words " ${w}")
endforeach()
string(STRIP "${global_words}" global_words)
string(REPLACE ";" " " names_text "${names}")
string(REPLACE ";" " " groups_text "${groups}")
string(REPLACE " " "|" groups_case "${groups_text}")
set(header "Generated from daemon/main.c by config/gen-completions.cmake: do not edit.")

# ---- bash ----
set(cases "")
foreach(k IN LISTS keys)
  string(REPLACE "_" " " label "${k}")
  set(w "")
  foreach(b IN LISTS bits_${k})
    opt_words(${b} ow)
    string(APPEND w " ${ow}")
  endforeach()
  string(STRIP "${w}" w)
  set(a "none")
  if(k STREQUAL "help")
    set(a "commands")
  elseif(k IN_LIST file_args)
    set(a "files")
  endif()
  string(APPEND cases "\t\"${label}\") opts=\"${w}\" args=${a} ;;\n")
endforeach()
set(gcases "")
foreach(g IN LISTS groups)
  string(APPEND gcases "\t${g}) verbs=\"${verbs_text_${g}}\" ;;\n")
endforeach()
file(WRITE "${OUT_DIR}/feedwatch" "# bash completion for feedwatch(1).
# ${header}
_feedwatch()
{
	local cur prev cword i w cmd= verb= opts= args=none verbs=
	local -a words
	cur=\${COMP_WORDS[COMP_CWORD]}
	prev=\${COMP_WORDS[COMP_CWORD-1]}
	words=(\"\${COMP_WORDS[@]}\")
	cword=\$COMP_CWORD
	case \$prev in
	${file_case})
		compopt -o filenames 2>/dev/null
		COMPREPLY=(\$(compgen -f -- \"\$cur\"))
		return ;;
	${value_case}) return ;;
	esac
	# The command (and a group's verb): the first words that are no option or its value.
	for ((i = 1; i < cword; i++)); do
		w=\${words[i]}
		case \$w in
		${value_case}) ((i++)); continue ;;
		--) break ;;
		-*) continue ;;
		esac
		if [[ -z \$cmd ]]; then
			cmd=\$w
		elif [[ -z \$verb ]]; then
			case \$cmd in ${groups_case}) verb=\$w ;; esac
		fi
	done
	if [[ -z \$cmd ]]; then
		if [[ \$cur == -* ]]; then
			COMPREPLY=(\$(compgen -W \"${global_words}\" -- \"\$cur\"))
		else
			COMPREPLY=(\$(compgen -W \"${names_text}\" -- \"\$cur\"))
		fi
		return
	fi
	case \$cmd in
${gcases}	esac
	if [[ -n \$verbs && -z \$verb ]]; then
		COMPREPLY=(\$(compgen -W \"\$verbs\" -- \"\$cur\"))
		return
	fi
	case \"\$cmd\${verb:+ \$verb}\" in
${cases}	esac
	if [[ \$cur == -* ]]; then
		COMPREPLY=(\$(compgen -W \"\$opts ${global_words}\" -- \"\$cur\"))
	elif [[ \$args == files ]]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY=(\$(compgen -f -- \"\$cur\"))
	elif [[ \$args == commands ]]; then
		COMPREPLY=(\$(compgen -W \"${names_text}\" -- \"\$cur\"))
	fi
}
complete -F _feedwatch feedwatch
")

# ---- zsh ----
set(zcmds "")
foreach(n IN LISTS names)
  string(REPLACE ":" "\\:" dn "${n}")
  string(APPEND zcmds "\t\t'${dn}:${cdesc_${n}}'\n")
endforeach()
function(zsh_opts bits out)
  set(s "")
  foreach(b IN LISTS bits)
    set(d "${desc_${long_${b}}}")
    if(NOT d)
      set(d "${long_${b}}")
    endif()
    if(short_${b})
      string(APPEND s " '-${short_${b}}:${d}'")
    endif()
    string(APPEND s " '--${long_${b}}:${d}'")
  endforeach()
  string(STRIP "${s}" s)
  set(${out} "${s}" PARENT_SCOPE)
endfunction()
zsh_opts("${global_bits}" zglobal)
set(zcases "")
foreach(k IN LISTS keys)
  string(REPLACE "_" " " label "${k}")
  zsh_opts("${bits_${k}}" zo)
  set(a "none")
  if(k STREQUAL "help")
    set(a "commands")
  elseif(k IN_LIST file_args)
    set(a "files")
  endif()
  string(APPEND zcases "\t(\"${label}\") opts=(${zo}) args=${a} ;;\n")
endforeach()
set(zgcases "")
foreach(g IN LISTS groups)
  string(APPEND zgcases "\t(${g}) verbs=(${verbs_text_${g}}) ;;\n")
endforeach()
file(WRITE "${OUT_DIR}/_feedwatch" "#compdef feedwatch
# zsh completion for feedwatch(1).
# ${header}
_feedwatch() {
	local cmd= verb= args=none i w
	local -a cmds opts verbs global
	cmds=(
${zcmds}	)
	global=(${zglobal})
	case \$words[CURRENT-1] in
	(${file_case}) _files; return ;;
	(${value_case}) _message 'value'; return ;;
	esac
	for (( i = 2; i < CURRENT; i++ )); do
		w=\$words[i]
		case \$w in
		(${value_case}) (( i++ )); continue ;;
		(--) break ;;
		(-*) continue ;;
		esac
		if [[ -z \$cmd ]]; then
			cmd=\$w
		elif [[ -z \$verb ]]; then
			case \$cmd in (${groups_case}) verb=\$w ;; esac
		fi
	done
	if [[ -z \$cmd ]]; then
		if [[ \$PREFIX == -* ]]; then
			_describe -t options 'option' global
		else
			_describe -t commands 'feedwatch command' cmds
		fi
		return
	fi
	case \$cmd in
${zgcases}	esac
	if (( \$#verbs )) && [[ -z \$verb ]]; then
		_describe -t verbs \"\$cmd verb\" verbs
		return
	fi
	case \"\$cmd\${verb:+ \$verb}\" in
${zcases}	esac
	if [[ \$PREFIX == -* ]]; then
		opts+=(\$global)
		_describe -t options 'option' opts
	elif [[ \$args == files ]]; then
		_files
	elif [[ \$args == commands ]]; then
		_describe -t commands 'feedwatch command' cmds
	fi
}
_feedwatch \"\$@\"
")

# ---- fish ----
set(fish "# fish completion for feedwatch(1).
# ${header}
# __fw_key: the command so far, \"outbox list\", \"check\" or \"\" (before the command).
function __fw_key
	set -l toks (commandline -opc)
	set -e toks[1]
	set -l cmd
	set -l verb
	set -l skip 0
	for t in \$toks
		if test \$skip = 1
			set skip 0
			continue
		end
		switch \$t
			case ${value_words}
				set skip 1
				continue
			case '-*'
				continue
		end
		if test -z \"\$cmd\"
			set cmd \$t
		else if test -z \"\$verb\"; and contains -- \$cmd ${groups_text}
			set verb \$t
		end
	end
	string trim -- \"\$cmd \$verb\"
end
function __fw_at
	test (__fw_key) = \"\$argv[1]\"
end
complete -c feedwatch -f
")
foreach(b IN LISTS global_bits)
  set(line "complete -c feedwatch -l ${long_${b}}")
  if(short_${b})
    string(APPEND line " -s ${short_${b}}")
  endif()
  string(APPEND fish "${line} -d '${desc_${long_${b}}}'\n")
endforeach()
foreach(n IN LISTS names)
  string(APPEND fish "complete -c feedwatch -n '__fw_at \"\"' -a ${n} -d '${cdesc_${n}}'\n")
endforeach()
foreach(g IN LISTS groups)
  string(APPEND fish "complete -c feedwatch -n '__fw_at ${g}' -a '${verbs_text_${g}}'\n")
endforeach()
foreach(k IN LISTS keys)
  string(REPLACE "_" " " label "${k}")
  foreach(b IN LISTS bits_${k})
    set(line "complete -c feedwatch -n '__fw_at \"${label}\"' -l ${long_${b}}")
    if(short_${b})
      string(APPEND line " -s ${short_${b}}")
    endif()
    if(long_${b} STREQUAL "config")
      string(APPEND line " -r -F")
    elseif(arg_${b})
      string(APPEND line " -x")
    endif()
    set(d "${desc_${long_${b}}}")
    if(NOT d)
      set(d "${long_${b}}")
    endif()
    string(APPEND fish "${line} -d '${d}'\n")
  endforeach()
  if(k STREQUAL "help")
    string(APPEND fish "complete -c feedwatch -n '__fw_at help' -a '${names_text}'\n")
  elseif(k IN_LIST file_args)
    string(APPEND fish "complete -c feedwatch -n '__fw_at \"${label}\"' -F\n")
  endif()
endforeach()
file(WRITE "${OUT_DIR}/feedwatch.fish" "${fish}")
