; Amigo tag query: C++ (and .h headers, which parse fine as C++).
(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @function
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @function
(function_definition
  declarator: (reference_declarator (function_declarator declarator: (identifier) @name))) @function
(function_definition
  declarator: (function_declarator declarator: (field_identifier) @name)) @method
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier name: (identifier) @name))) @method
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier name: (qualified_identifier name: (identifier) @name)))) @method
(declaration
  declarator: (function_declarator declarator: (identifier) @name)) @function
(field_declaration
  declarator: (function_declarator declarator: (field_identifier) @name)) @method
(class_specifier name: (type_identifier) @name body: (_)) @class
(struct_specifier name: (type_identifier) @name body: (_)) @class
(union_specifier name: (type_identifier) @name body: (_)) @class
(enum_specifier name: (type_identifier) @name body: (_)) @enum
(type_definition declarator: (type_identifier) @name) @type
(alias_declaration name: (type_identifier) @name) @type
(namespace_definition name: (namespace_identifier) @name) @module
(preproc_def name: (identifier) @name) @constant
(preproc_function_def name: (identifier) @name) @function
(enumerator name: (identifier) @name) @constant
(preproc_include) @import
(using_declaration) @import
(identifier) @ref
(type_identifier) @ref
(field_identifier) @ref
(namespace_identifier) @ref
(field_expression field: (field_identifier) @weak)
(init_declarator declarator: (identifier) @local)
(parameter_declaration declarator: (identifier) @local)
