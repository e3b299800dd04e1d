; Amigo tag query: C.
(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @function
(declaration
  declarator: (function_declarator declarator: (identifier) @name)) @function
(declaration
  declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @function
(struct_specifier name: (type_identifier) @name body: (_)) @class
(union_specifier name: (type_identifier) @name body: (_)) @class
(enum_specifier name: (type_identifier) @name body: (_)) @enum
(type_definition declarator: (type_identifier) @name) @type
(preproc_def name: (identifier) @name) @constant
(preproc_function_def name: (identifier) @name) @function
(enumerator name: (identifier) @name) @constant
(preproc_include) @import
(identifier) @ref
(type_identifier) @ref
(field_identifier) @ref
(field_expression field: (field_identifier) @weak)
(init_declarator declarator: (identifier) @local)
(parameter_declaration declarator: (identifier) @local)
