; Amigo tag query: JavaScript / JSX.
(class_declaration name: (identifier) @name) @class
(class name: (identifier) @name) @class
(function_declaration name: (identifier) @name) @function
(generator_function_declaration name: (identifier) @name) @function
(method_definition name: (property_identifier) @name) @method
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)]) @function
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @constant)
(program (variable_declaration (variable_declarator name: (identifier) @name)) @constant)
(program (export_statement
  declaration: (lexical_declaration (variable_declarator name: (identifier) @name)) @constant))
(import_statement) @import
(identifier) @ref
(property_identifier) @ref
(shorthand_property_identifier) @ref
(member_expression property: (property_identifier) @weak)
(pair key: (property_identifier) @weak)
(variable_declarator name: (identifier) @local)
(formal_parameters (identifier) @local)
