; Amigo tag query: Go.
(function_declaration name: (identifier) @name) @function
(method_declaration name: (field_identifier) @name) @method
(type_spec name: (type_identifier) @name) @type
(const_spec name: (identifier) @name) @constant
(source_file (var_declaration (var_spec name: (identifier) @name) @constant))
(field_declaration name: (field_identifier) @name) @field
(method_elem name: (field_identifier) @name) @method
(import_declaration) @import
(package_clause) @import
(identifier) @ref
(type_identifier) @ref
(field_identifier) @ref
(selector_expression field: (field_identifier) @weak)
(keyed_element (literal_element (identifier) @weak))
(short_var_declaration left: (expression_list (identifier) @local))
(parameter_declaration name: (identifier) @local)
