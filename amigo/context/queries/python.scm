; Amigo tag query: Python. @<kind> marks a definition node, @name its name,
; @import an import statement, @ref an identifier used.
(class_definition name: (identifier) @name) @class
(function_definition name: (identifier) @name) @function
(module (expression_statement (assignment left: (identifier) @name) @constant))
(class_definition
  body: (block (expression_statement (assignment left: (identifier) @name) @field)))
(import_statement) @import
(import_from_statement) @import
(future_import_statement) @import
(identifier) @ref
; weak uses: attributes, keyword arguments and parameters name no particular definition
(attribute attribute: (identifier) @weak)
(keyword_argument name: (identifier) @weak)
; local bindings: a name assigned or bound here is this file's own variable
(assignment left: (identifier) @local)
(assignment left: (pattern_list (identifier) @local))
(for_statement left: (identifier) @local)
(for_statement left: (pattern_list (identifier) @local))
(as_pattern alias: (as_pattern_target (identifier) @local))
(parameters (identifier) @local)
(default_parameter name: (identifier) @local)
(typed_parameter (identifier) @local)
(typed_default_parameter name: (identifier) @local)
